package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

func TestParseBlocksFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{"suite blocks", []string{"-suite", "blocks", "-blocks-load", "1s"}, false},
		{"blocks load too short", []string{"-suite", "blocks", "-blocks-load", "1ms"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseFlags(tt.args)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && (!cfg.runs("blocks") || cfg.runs("state")) {
				t.Errorf("-suite blocks runs: blocks %v, state %v", cfg.runs("blocks"), cfg.runs("state"))
			}
		})
	}
	cfg, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.runs("blocks") || cfg.blocksLoad != 5*time.Second {
		t.Errorf("defaults: runs blocks %v, blocks load %v", cfg.runs("blocks"), cfg.blocksLoad)
	}
}

func TestSelectBlocks(t *testing.T) {
	tests := []struct {
		re   string
		want []string
	}{
		{"", []string{"blocks/lock/sqlite", "blocks/lock/redis", "blocks/secrets/localfile", "blocks/bindings/http"}},
		{"/lock/", []string{"blocks/lock/sqlite", "blocks/lock/redis"}},
		{"sqlite$|http$", []string{"blocks/lock/sqlite", "blocks/bindings/http"}},
		{"^pubsub/", nil},
	}
	for _, tt := range tests {
		var got []string
		for _, k := range selectBlocks(regexp.MustCompile(tt.re)) {
			got = append(got, k.name)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%q selects %v, want %v", tt.re, got, tt.want)
		}
	}
}

func TestBlocksComponent(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		typ, name, metaName, metaValue string
	}{
		{"lock.sqlite", lockStoreName, "connectionString", dir + "/locks.db"},
		{"lock.redis", lockStoreName, "redisHost", "127.0.0.1:6379"},
		{"secretstores.local.file", secretStoreName, "secretsFile", dir + "/secrets.json"},
		{"bindings.http", bindingName, "url", "http://127.0.0.1:1/echo"},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			out, err := blocksComponent(blocksKind{typ: tt.typ}, dir, "127.0.0.1:6379", "http://127.0.0.1:1/echo")
			if err != nil {
				t.Fatal(err)
			}
			var c struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name string `json:"name"`
				} `json:"metadata"`
				Spec struct {
					Type     string `json:"type"`
					Version  string `json:"version"`
					Metadata []struct {
						Name  string `json:"name"`
						Value string `json:"value"`
					} `json:"metadata"`
				} `json:"spec"`
			}
			if err := yaml.UnmarshalStrict([]byte(out), &c); err != nil {
				t.Fatalf("not YAML: %v\n%s", err, out)
			}
			if c.Kind != "Component" || c.Metadata.Name != tt.name || c.Spec.Type != tt.typ || len(c.Spec.Metadata) != 1 ||
				c.Spec.Metadata[0].Name != tt.metaName || c.Spec.Metadata[0].Value != tt.metaValue {
				t.Errorf("component = %+v", c)
			}
		})
	}
	raw, err := os.ReadFile(filepath.Join(dir, "secrets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var secrets map[string]string
	if err := json.Unmarshal(raw, &secrets); err != nil || len(secrets) != keyPool {
		t.Fatalf("secrets file: %d secrets, %v", len(secrets), err)
	}
	if v := secrets["bench-0007"]; v != secretValue(7) || len(v) != secretValueSize {
		t.Errorf("bench-0007 = %q", v)
	}
	if _, err := blocksComponent(blocksKind{typ: "lock.nosuch"}, dir, "", ""); err == nil {
		t.Error("an unknown type gave a component")
	}
}

// fakeLocks is a lock API: one owner per resource, no expiry.
type fakeLocks struct {
	mu     sync.Mutex
	owners map[string]string
	// refuse makes that many try-locks fail first, as under contention.
	refuse int
	// unlockStatus, when set, is answered to every unlock.
	unlockStatus string
}

func (f *fakeLocks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct{ ResourceID, LockOwner string }
	_ = json.NewDecoder(r.Body).Decode(&req)
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case strings.HasSuffix(r.URL.Path, "/lock/"+lockStoreName):
		ok := f.owners[req.ResourceID] == "" && f.refuse == 0
		if f.refuse > 0 {
			f.refuse--
		}
		if ok {
			f.owners[req.ResourceID] = req.LockOwner
		}
		_ = json.NewEncoder(w).Encode(map[string]bool{"success": ok})
	case strings.HasSuffix(r.URL.Path, "/unlock/"+lockStoreName):
		if f.unlockStatus != "" {
			_, _ = io.WriteString(w, f.unlockStatus)
			return
		}
		status := 1
		if o := f.owners[req.ResourceID]; o == req.LockOwner {
			delete(f.owners, req.ResourceID)
			status = 0
		} else if o != "" {
			status = 2
		}
		_ = json.NewEncoder(w).Encode(map[string]int{"status": status})
	default:
		http.NotFound(w, r)
	}
}

// fakePort serves h and returns its port.
func fakePort(t *testing.T, h http.Handler) int {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().(*net.TCPAddr).Port
}

func TestLockLoad(t *testing.T) {
	ctx := context.Background()
	t.Run("retries until acquired", func(t *testing.T) {
		f := &fakeLocks{owners: map[string]string{}, refuse: 3}
		l := newLockLoad(newKeepAliveClient(), fakePort(t, f), "abcd", false, "")
		if err := l.op(ctx, 0); err != nil {
			t.Fatal(err)
		}
		// 3 refused + 1 granted try-lock + 1 unlock.
		if n := l.requests(); n != 5 {
			t.Errorf("requests = %d, want 5", n)
		}
		if len(f.owners) != 0 {
			t.Errorf("locks left held: %v", f.owners)
		}
		if err := l.close(); err != nil {
			t.Error(err)
		}
	})
	t.Run("concurrent cycles", func(t *testing.T) {
		f := &fakeLocks{owners: map[string]string{}}
		l := newLockLoad(newKeepAliveClient(), fakePort(t, f), "abcd", false, "")
		p := drive(ctx, 200, 8, l.op, randomKey)
		if p.errs.count != 0 || len(p.latencies) != 200 {
			t.Fatalf("%d errors (%v), %d ops", p.errs.count, p.errs.samples, len(p.latencies))
		}
	})
	t.Run("failed unlock is an error", func(t *testing.T) {
		for _, body := range []string{`{"status":2}`, `{}`, `not json`} {
			f := &fakeLocks{owners: map[string]string{}, unlockStatus: body}
			l := newLockLoad(newKeepAliveClient(), fakePort(t, f), "abcd", false, "")
			if err := l.op(ctx, 0); err == nil {
				t.Errorf("unlock answer %s: no error", body)
			}
		}
	})
	t.Run("resources are the run's", func(t *testing.T) {
		l := newLockLoad(newKeepAliveClient(), 1, "abcd", true, "127.0.0.1:1")
		if l.resources[3] != "benchabcd-r3" || l.redisAddr != "127.0.0.1:1" {
			t.Errorf("resources %v, redis %q", l.resources, l.redisAddr)
		}
	})
}

func TestSecretLoad(t *testing.T) {
	tests := []struct {
		name    string
		answer  func(key string) string
		wantErr bool
	}{
		{"right secret", func(key string) string {
			i := slices.Index(newPayload().keys, key)
			return `{"` + key + `":"` + secretValue(i) + `"}` + "\n"
		}, false},
		{"wrong secret", func(key string) string { return `{"` + key + `":"x"}` }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := fakePort(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, tt.answer(filepath.Base(r.URL.Path)))
			}))
			s := newSecretLoad(newKeepAliveClient(), port)
			defer s.close()
			err := s.op(context.Background(), 0)
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestBindingLoad(t *testing.T) {
	tests := []struct {
		name    string
		answer  func(data any) []byte
		wantErr bool
	}{
		// The real sidecar re-encodes data (keys sorted) and returns the
		// echo's answer as the body.
		{"data back", func(data any) []byte { b, _ := json.Marshal(data); return b }, false},
		{"other data", func(any) []byte { return []byte(`{"count":1}`) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := fakePort(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var req struct {
					Operation string
					Data      any
				}
				if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Operation != "post" || r.URL.Path != "/v1.0/bindings/"+bindingName {
					http.Error(w, "bad request", http.StatusBadRequest)
					return
				}
				_, _ = w.Write(tt.answer(req.Data))
			}))
			b, err := newBindingLoad(newKeepAliveClient(), port)
			if err != nil {
				t.Fatal(err)
			}
			defer b.close()
			if err := b.op(context.Background(), 0); (err != nil) != tt.wantErr {
				t.Errorf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !bytes.HasPrefix(b.data, []byte(`{"count":0,"id":"bench-0000"`)) {
				t.Errorf("expected data %s does not have sorted keys", b.data)
			}
		})
	}
}

func TestPrintBlocksTable(t *testing.T) {
	r := &report{Suite: "blocks", Concurrency: 16, Warmup: 2000, BlocksLoadSeconds: 5,
		Blocks: []blocksResult{
			{Name: "blocks/lock/sqlite", phaseFigures: phaseFigures{Ops: 4000, OpsPerSec: 800, P50US: 13000, P99US: 80000}, RequestsPerOp: 5.75,
				SidecarCPUMSPer1k: 983.5, SidecarCPUMSPer1kReq: 171},
			{Name: "blocks/lock/redis", Skipped: "Redis unreachable"},
			{Name: "blocks/bindings/http", Errors: 2, ErrorSamples: []string{"boom"}},
		}}
	var b bytes.Buffer
	if err := printTable(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"16 workers for 5s", "13000 µs", "5.75", "983.5 ms", "171.0 ms",
		"skipped: Redis unreachable", "failed (2 errors)", "blocks/bindings/http: boom", "… and 1 more", "Errors: 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Startup:") || strings.Contains(out, "Pub/sub") {
		t.Error("a blocks-only run printed other suites")
	}
}

func TestBlocksResultFill(t *testing.T) {
	p := &phase{latencies: []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 4 * time.Millisecond}, elapsed: 2 * time.Second}
	var r blocksResult
	r.fill(p, 10, 8*time.Millisecond, 4*time.Millisecond, memInfo{rss: 5e6})
	if r.Ops != 4 || r.OpsPerSec != 2 || r.RequestsPerOp != 2.5 || r.SidecarCPUMSPer1k != 2000 ||
		r.SidecarCPUMSPer1kReq != 800 || r.LoadgenCPUMSPer1k != 1000 || r.P50US != 2000 || r.RSSBytes != 5e6 {
		t.Errorf("fill = %+v", r)
	}
}
