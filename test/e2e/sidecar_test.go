package e2e

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSIGTERMExitsZero(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "s.yaml", memoryComponent("statestore"))
			s := start(t, nil, "--app-id", "sig", "--resources-path", dir)
			s.waitStatus(t, "/v1.0/healthz", 204, 10*time.Second)
			s.signal(t, sig)
			if code := s.exitCode(t, 10*time.Second); code != 0 {
				t.Fatalf("exit code %d", code)
			}
		})
	}
}

func TestShutdownAPI(t *testing.T) {
	s := start(t, nil, "--app-id", "shut")
	s.waitStatus(t, "/v1.0/healthz", 204, 10*time.Second)
	res, err := http.Post(s.url("/v1.0/shutdown"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 204 {
		t.Fatalf("shutdown status %d", res.StatusCode)
	}
	if code := s.exitCode(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func TestStartupErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"bad field type", map[string]string{"bad.yaml": memoryComponent("a") + "---\napiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: b\nspec:\n  type: state.in-memory\n  metadata:\n  - name: [1]\n"},
			[]string{"bad.yaml", "document 2", "spec.metadata[0].name"}},
		{"unknown type", map[string]string{"u.yaml": strings.Replace(memoryComponent("a"), "state.in-memory", "state.nosuch", 1)},
			[]string{"state.nosuch", "known types:", "state.in-memory", "state.redis"}},
		{"init failure", map[string]string{"r.yaml": "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: r\nspec:\n  type: state.redis\n  initTimeout: 2s\n  metadata:\n  - name: redisHost\n    value: 127.0.0.1:1\n"},
			[]string{`component "r"`, "r.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, c := range tt.files {
				writeFile(t, dir, n, c)
			}
			s := start(t, nil, "--app-id", "bad", "--resources-path", dir)
			if code := s.exitCode(t, 20*time.Second); code == 0 {
				t.Fatal("want a non-zero exit code")
			}
			out := s.out.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestIgnoreErrorsContinues(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "r.yaml", "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: r\nspec:\n  type: state.redis\n  ignoreErrors: true\n  initTimeout: 1s\n  metadata:\n  - name: redisHost\n    value: 127.0.0.1:1\n")
	writeFile(t, dir, "m.yaml", memoryComponent("statestore"))
	s := start(t, nil, "--app-id", "ign", "--resources-path", dir)
	s.waitStatus(t, "/v1.0/healthz", 204, 15*time.Second)
	res, err := http.Get(s.url("/v1.0/metadata"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), `"name":"statestore"`) || strings.Contains(string(body), `"name":"r"`) {
		t.Fatalf("metadata = %s", body)
	}
}

func TestWaitsForAppPort(t *testing.T) {
	appPort := freePort(t)
	s := start(t, nil, "--app-id", "waiter", "--app-port", strconv.Itoa(appPort))
	s.waitStatus(t, "/v1.0/healthz/outbound", 204, 10*time.Second)
	s.waitStatus(t, "/v1.0/healthz", 500, time.Second)
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(appPort))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s.waitStatus(t, "/v1.0/healthz", 204, 10*time.Second)
}

func TestAPITokenEnv(t *testing.T) {
	s := start(t, []string{"DAPR_API_TOKEN=tok"}, "--app-id", "tok")
	s.waitStatus(t, "/v1.0/healthz", 204, 10*time.Second)
	res, err := http.Get(s.url("/v1.0/metadata"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Fatalf("metadata without token: %d", res.StatusCode)
	}
	req, _ := http.NewRequest("GET", s.url("/v1.0/metadata"), nil)
	req.Header.Set("dapr-api-token", "tok")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("metadata with token: %d", res.StatusCode)
	}
}

func TestBadFlag(t *testing.T) {
	s := start(t, nil, "--app-id", "x", "--app-protocol", "carrier-pigeon")
	if code := s.exitCode(t, 10*time.Second); code == 0 {
		t.Fatal("want non-zero exit")
	}
	if !strings.Contains(s.out.String(), "app-protocol") {
		t.Fatalf("error does not name the flag:\n%s", s.out.String())
	}
}
