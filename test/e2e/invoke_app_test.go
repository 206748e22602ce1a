package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slowStreamApp streams 32 KiB chunks every few milliseconds until the
// client goes away; the whole body (1 GiB) would take minutes.
func slowStreamApp() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 32<<10)
		w.Header().Set("Content-Type", "application/octet-stream")
		for sent := 0; sent < 1<<30; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
}

// TestInvokePeerDiesMidStream kills the callee's sidecar while it relays a
// response: the caller's client must see the body end (error or truncated)
// promptly, and the caller's sidecar must keep working.
func TestInvokePeerDiesMidStream(t *testing.T) {
	ia, ib, ic := freePort(t), freePort(t), freePort(t)
	cfg := staticConfig(t, map[string][]int{"svc-a": {ia}, "svc-b": {ib}, "svc-c": {ic}})
	s := startPeers(t,
		peer{appID: "svc-a", internal: ia, config: cfg},
		peer{appID: "svc-b", internal: ib, appPort: httpApp(t, slowStreamApp()), config: cfg},
		peer{appID: "svc-c", internal: ic, appPort: httpApp(t, echoApp("c")), config: cfg},
	)
	a, b := s[0], s[1]

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", a.url("/v1.0/invoke/svc-b/method/stream"), nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	if _, err := io.CopyN(io.Discard, res.Body, 1<<20); err != nil {
		t.Fatalf("reading the first MiB: %v", err)
	}

	if err := b.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	b.exitCode(t, 5*time.Second)
	rest, err := io.Copy(io.Discard, res.Body)
	took := time.Since(killed)
	if ctx.Err() != nil {
		t.Fatalf("the body did not end after the peer died (read %d more bytes, %v)", rest, err)
	}
	if took > 10*time.Second {
		t.Fatalf("the body took %v to end after the peer died", took)
	}
	t.Logf("after kill: %d more bytes, err %v, ended in %v", rest, err, took)

	a.waitStatus(t, "/v1.0/healthz", 204, 2*time.Second)
	e := decodeEcho(t, call(t, "POST", a.url("/v1.0/invoke/svc-c/method/after"), "still here", nil))
	if e.App != "c" || e.Body != "still here" {
		t.Fatalf("echo %+v", e)
	}
}

// TestInvokeAppMaxConcurrency checks --app-max-concurrency 1 serialises
// calls into the app without failing any.
func TestInvokeAppMaxConcurrency(t *testing.T) {
	var inflight, peak atomic.Int32
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
		_, _ = io.WriteString(w, "done")
	})
	ia, ib := freePort(t), freePort(t)
	cfg := staticConfig(t, map[string][]int{"svc-a": {ia}, "svc-b": {ib}})
	s := startPeers(t,
		peer{appID: "svc-a", internal: ia, config: cfg},
		peer{appID: "svc-b", internal: ib, appPort: httpApp(t, app), config: cfg, args: []string{"--app-max-concurrency", "1"}},
	)

	var wg sync.WaitGroup
	results := make([]response, 5)
	errs := make([]error, 5)
	for i := range results {
		wg.Go(func() {
			res, err := testClient.Post(s[0].url("/v1.0/invoke/svc-b/method/work"), "text/plain", nil)
			if err != nil {
				errs[i] = err
				return
			}
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			results[i], errs[i] = response{status: res.StatusCode, body: body}, err
		})
	}
	wg.Wait()
	for i, r := range results {
		if errs[i] != nil || r.status != 200 || string(r.body) != "done" {
			t.Errorf("call %d: %v %d %s", i, errs[i], r.status, r.body)
		}
	}
	if p := peak.Load(); p != 1 {
		t.Fatalf("the app saw %d concurrent calls, want 1", p)
	}
}

// TestInvokeAppHealth checks that invocation fails fast while the app's
// health probe fails, and works again after it recovers.
func TestInvokeAppHealth(t *testing.T) {
	var unhealthy atomic.Bool
	var calls atomic.Int32
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			if unhealthy.Load() {
				w.WriteHeader(500)
			}
			return
		}
		calls.Add(1)
		_, _ = io.WriteString(w, "ok")
	})
	ia, ib := freePort(t), freePort(t)
	cfg := staticConfig(t, map[string][]int{"svc-a": {ia}, "svc-b": {ib}})
	s := startPeers(t,
		peer{appID: "svc-a", internal: ia, config: cfg},
		peer{appID: "svc-b", internal: ib, appPort: httpApp(t, app), config: cfg, args: []string{
			"--enable-app-health-check", "--app-health-probe-interval", "1", "--app-health-threshold", "1", "--app-health-probe-timeout", "500"}},
	)
	url := s[0].url("/v1.0/invoke/svc-b/method/work")
	if r := call(t, "GET", url, "", nil); r.status != 200 || string(r.body) != "ok" {
		t.Fatalf("healthy: %d %s", r.status, r.body)
	}

	unhealthy.Store(true)
	r := waitInvoke(t, url, 5*time.Second, func(r response) bool { return r.status != 200 })
	code, msg := daprError(t, r)
	if r.status != 500 || code != "ERR_DIRECT_INVOKE" || !strings.Contains(msg, "not in a healthy state") {
		t.Fatalf("unhealthy: %d %s", r.status, r.body)
	}
	before := calls.Load()
	began := time.Now()
	r = call(t, "GET", url, "", nil)
	if took := time.Since(began); r.status != 500 || took > 500*time.Millisecond {
		t.Fatalf("unhealthy call: %d %s after %v, want a fast 500", r.status, r.body, took)
	}
	if calls.Load() != before {
		t.Fatal("the unhealthy app was called")
	}

	unhealthy.Store(false)
	r = waitInvoke(t, url, 5*time.Second, func(r response) bool { return r.status == 200 })
	if string(r.body) != "ok" {
		t.Fatalf("recovered: %d %s", r.status, r.body)
	}
}

// waitInvoke repeats a GET until done accepts the answer.
func waitInvoke(t *testing.T, url string, timeout time.Duration, done func(response) bool) response {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r := call(t, "GET", url, "", nil)
		if done(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d %s after %v", r.status, r.body, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
