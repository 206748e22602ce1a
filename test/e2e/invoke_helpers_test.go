package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// staticConfig writes a Configuration that resolves app ids with the static
// resolver to 127.0.0.1:<internal port>, and returns its path.
func staticConfig(t *testing.T, apps map[string][]int) string {
	t.Helper()
	ids := make([]string, 0, len(apps))
	for id := range apps {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	b.WriteString("apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: cfg\nspec:\n  nameResolution:\n    component: static\n    configuration:\n      apps:\n")
	for _, id := range ids {
		addrs := make([]string, 0, len(apps[id]))
		for _, p := range apps[id] {
			addrs = append(addrs, strconv.Quote("127.0.0.1:"+strconv.Itoa(p)))
		}
		fmt.Fprintf(&b, "        %s: [%s]\n", id, strings.Join(addrs, ", "))
	}
	dir := t.TempDir()
	writeFile(t, dir, "config.yaml", b.String())
	return filepath.Join(dir, "config.yaml")
}

// peer describes one sidecar of an invocation test.
type peer struct {
	appID    string
	internal int      // --dapr-internal-grpc-port
	appPort  int      // 0 = no app
	config   string   // --config path, "" = none (mDNS)
	env      []string // extra environment
	args     []string // extra flags
}

// launch starts the sidecar without waiting for it.
func (p peer) launch(t *testing.T) *sidecar {
	t.Helper()
	args := []string{"--app-id", p.appID, "--dapr-internal-grpc-port", strconv.Itoa(p.internal)}
	if p.appPort > 0 {
		args = append(args, "--app-port", strconv.Itoa(p.appPort))
	}
	if p.config != "" {
		args = append(args, "--config", p.config)
	}
	return start(t, p.env, append(args, p.args...)...)
}

// startPeers launches all peers at once (so their start-up overlaps) and
// waits until each reports healthy.
func startPeers(t *testing.T, peers ...peer) []*sidecar {
	t.Helper()
	out := make([]*sidecar, len(peers))
	for i, p := range peers {
		out[i] = p.launch(t)
	}
	for _, s := range out {
		s.waitStatus(t, "/v1.0/healthz", 204, 15*time.Second)
	}
	return out
}

// httpApp serves h on 127.0.0.1:0 for the test's duration and returns the
// port.
func httpApp(t *testing.T, h http.Handler) int {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().(*net.TCPAddr).Port
}

// echo is what the echo app reports about the request it received.
type echo struct {
	App      string      `json:"app"`
	Method   string      `json:"method"`
	Path     string      `json:"path"`
	RawQuery string      `json:"rawQuery"`
	Header   http.Header `json:"header"`
	Body     string      `json:"body"`
}

// echoApp answers every request with an echo as JSON, except /teapot,
// which answers 418 with its own headers and body.
func echoApp(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/teapot" {
			w.Header().Set("Content-Type", "application/x-tea")
			w.Header().Set("X-Brew", "earl grey")
			w.Header().Add("Set-Cookie", "a=1")
			w.Header().Add("Set-Cookie", "b=2")
			w.WriteHeader(http.StatusTeapot)
			_, _ = io.WriteString(w, "short and stout")
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echo{App: name, Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header, Body: string(body)})
	})
}

// response is a fully read HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

var testClient = &http.Client{Timeout: 15 * time.Second}

// call sends one request and reads the whole answer.
func call(t *testing.T, method, url, body string, header map[string]string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := testClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// decodeEcho parses an echo app answer, failing the test on anything else.
func decodeEcho(t *testing.T, r response) echo {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d, body %s", r.status, r.body)
	}
	var e echo
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("not an echo: %v: %s", err, r.body)
	}
	return e
}

// daprError parses Dapr's JSON error body.
func daprError(t *testing.T, r response) (code, message string) {
	t.Helper()
	var e struct {
		ErrorCode string `json:"errorCode"`
		Message   string `json:"message"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("status %d: not a Dapr error body: %v: %s", r.status, err, r.body)
	}
	return e.ErrorCode, e.Message
}

// vmRSS reads a process's resident set size in bytes.
func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("reading status of %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parsing VmRSS %q: %w", v, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// pattern is an endless reader of a fixed byte pattern, so large bodies
// are generated rather than held in memory.
type pattern struct{ off int }

var patternBlock = func() []byte {
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}()

func (p *pattern) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		c := copy(b[n:], patternBlock[p.off:])
		n += c
		p.off = (p.off + c) % len(patternBlock)
	}
	return n, nil
}
