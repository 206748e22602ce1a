package e2e

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// invokeSetup is a caller A and callees that all resolve each other with
// the static resolver:
//
//	A (svc-a, echo app "a")  B (svc-b, echo app "b")
//	C (svc-c, echo app "c", APP_API_TOKEN=apptok)
//	T (svc-t, no app, DAPR_API_TOKEN=tok)
type invokeSetup struct {
	a, b, c, tok *sidecar
}

func startInvokeSetup(t *testing.T) invokeSetup {
	t.Helper()
	ia, ib, ic, it := freePort(t), freePort(t), freePort(t), freePort(t)
	cfg := staticConfig(t, map[string][]int{"svc-a": {ia}, "svc-b": {ib}, "svc-c": {ic}, "svc-t": {it}})
	s := startPeers(t,
		peer{appID: "svc-a", internal: ia, appPort: httpApp(t, echoApp("a")), config: cfg},
		peer{appID: "svc-b", internal: ib, appPort: httpApp(t, echoApp("b")), config: cfg},
		peer{appID: "svc-c", internal: ic, appPort: httpApp(t, echoApp("c")), config: cfg, env: []string{"APP_API_TOKEN=apptok"}},
		peer{appID: "svc-t", internal: it, config: cfg, env: []string{"DAPR_API_TOKEN=tok"}},
	)
	return invokeSetup{a: s[0], b: s[1], c: s[2], tok: s[3]}
}

func TestInvokeHTTP(t *testing.T) {
	s := startInvokeSetup(t)

	t.Run("verbs", func(t *testing.T) {
		for _, verb := range []string{"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
			t.Run(verb, func(t *testing.T) {
				body := ""
				if verb != "GET" && verb != "DELETE" && verb != "OPTIONS" {
					body = "payload-" + verb
				}
				r := call(t, verb, s.a.url("/v1.0/invoke/svc-b/method/orders/42?x=1&y=a%20b&x=2"), body, map[string]string{
					"Content-Type":   "text/plain",
					"X-Request-Kind": "custom",
					"dapr-api-token": "must-not-leak",
					"Connection":     "X-Hop",
					"X-Hop":          "hop-by-hop",
				})
				e := decodeEcho(t, r)
				checks := []struct {
					what, got, want string
				}{
					{"app", e.App, "b"},
					{"method", e.Method, verb},
					{"path", e.Path, "/orders/42"},
					{"query", e.RawQuery, "x=1&y=a%20b&x=2"},
					{"body", e.Body, body},
					{"X-Request-Kind", e.Header.Get("X-Request-Kind"), "custom"},
					{"dapr-api-token", e.Header.Get("Dapr-Api-Token"), ""},
					{"X-Hop (Connection-nominated)", e.Header.Get("X-Hop"), ""},
					{"dapr-caller-app-id", e.Header.Get("Dapr-Caller-App-Id"), "svc-a"},
					{"dapr-callee-app-id", e.Header.Get("Dapr-Callee-App-Id"), "svc-b"},
				}
				if body != "" {
					checks = append(checks, struct{ what, got, want string }{"Content-Type", e.Header.Get("Content-Type"), "text/plain"})
				}
				for _, c := range checks {
					if c.got != c.want {
						t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
					}
				}
				if net.ParseIP(e.Header.Get("X-Forwarded-For")) == nil || e.Header.Get("X-Forwarded-Host") == "" {
					t.Errorf("X-Forwarded-For %q, X-Forwarded-Host %q: want an IP and a host name",
						e.Header.Get("X-Forwarded-For"), e.Header.Get("X-Forwarded-Host"))
				}
				if f := e.Header.Get("Forwarded"); !strings.Contains(f, "for=") || !strings.Contains(f, "by=") || !strings.Contains(f, "host=") {
					t.Errorf("Forwarded = %q, want for=…;by=…;host=…", f)
				}
			})
		}
	})

	t.Run("response relayed verbatim", func(t *testing.T) {
		r := call(t, "POST", s.a.url("/v1.0/invoke/svc-b/method/teapot"), "", nil)
		if r.status != http.StatusTeapot || string(r.body) != "short and stout" ||
			r.header.Get("Content-Type") != "application/x-tea" || r.header.Get("X-Brew") != "earl grey" ||
			strings.Join(r.header.Values("Set-Cookie"), ",") != "a=1,b=2" {
			t.Fatalf("got %d %v %q", r.status, r.header, r.body)
		}
	})

	t.Run("self invocation has no caller headers", func(t *testing.T) {
		e := decodeEcho(t, call(t, "GET", s.a.url("/v1.0/invoke/svc-a/method/self?q=1"), "", map[string]string{"dapr-api-token": "must-not-leak"}))
		if e.App != "a" || e.Path != "/self" || e.RawQuery != "q=1" {
			t.Fatalf("echo %+v", e)
		}
		for _, h := range []string{"Dapr-Caller-App-Id", "Dapr-Callee-App-Id", "X-Forwarded-For", "Forwarded", "Dapr-Api-Token"} {
			if v := e.Header.Get(h); v != "" {
				t.Errorf("self invocation carries %s: %q", h, v)
			}
		}
	})

	t.Run("dapr-app-id header on any path", func(t *testing.T) {
		e := decodeEcho(t, call(t, "PUT", s.a.url("/some/arbitrary/path?k=v"), "hdr", map[string]string{"dapr-app-id": "svc-b"}))
		if e.App != "b" || e.Method != "PUT" || e.Path != "/some/arbitrary/path" || e.RawQuery != "k=v" || e.Body != "hdr" {
			t.Fatalf("echo %+v", e)
		}
		if v := e.Header.Get("Dapr-App-Id"); v != "" {
			t.Errorf("app saw dapr-app-id %q", v)
		}
	})

	t.Run("unknown app id", func(t *testing.T) {
		r := call(t, "GET", s.a.url("/v1.0/invoke/nosuchapp/method/x"), "", nil)
		code, msg := daprError(t, r)
		if r.status != 500 || code != "ERR_DIRECT_INVOKE" || !strings.Contains(msg, "nosuchapp") {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})

	t.Run("no app id", func(t *testing.T) {
		r := call(t, "GET", s.a.url("/v1.0/nosuchroute"), "", nil)
		code, msg := daprError(t, r)
		if r.status != 404 || code != "ERR_DIRECT_INVOKE" || !strings.Contains(msg, "dapr-app-id") {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})

	t.Run("APP_API_TOKEN on the callee", func(t *testing.T) {
		e := decodeEcho(t, call(t, "GET", s.a.url("/v1.0/invoke/svc-c/method/tok"), "", map[string]string{"dapr-api-token": "caller-token"}))
		if e.App != "c" || e.Header.Get("Dapr-Api-Token") != "apptok" {
			t.Fatalf("app %q saw dapr-api-token %q, want apptok", e.App, e.Header.Get("Dapr-Api-Token"))
		}
	})

	t.Run("DAPR_API_TOKEN on the caller", func(t *testing.T) {
		url := s.tok.url("/v1.0/invoke/svc-b/method/guarded")
		if r := call(t, "GET", url, "", nil); r.status != 401 {
			t.Fatalf("without token: %d %s", r.status, r.body)
		}
		if r := call(t, "GET", url, "", map[string]string{"dapr-api-token": "wrong"}); r.status != 401 {
			t.Fatalf("with a wrong token: %d %s", r.status, r.body)
		}
		e := decodeEcho(t, call(t, "GET", url, "", map[string]string{"dapr-api-token": "tok"}))
		if e.App != "b" || e.Header.Get("Dapr-Caller-App-Id") != "svc-t" {
			t.Fatalf("echo %+v", e)
		}
		if v := e.Header.Get("Dapr-Api-Token"); v != "" {
			t.Errorf("app saw the caller's API token %q", v)
		}
	})
}

// TestInvokeSeveralInstances spreads calls over two sidecars with one app id.
func TestInvokeSeveralInstances(t *testing.T) {
	ia, ib1, ib2 := freePort(t), freePort(t), freePort(t)
	cfg := staticConfig(t, map[string][]int{"svc-a": {ia}, "svc-b": {ib1, ib2}})
	s := startPeers(t,
		peer{appID: "svc-a", internal: ia, config: cfg},
		peer{appID: "svc-b", internal: ib1, appPort: httpApp(t, echoApp("b1")), config: cfg},
		peer{appID: "svc-b", internal: ib2, appPort: httpApp(t, echoApp("b2")), config: cfg},
	)
	seen := map[string]int{}
	for i := range 20 {
		e := decodeEcho(t, call(t, "POST", s[0].url("/v1.0/invoke/svc-b/method/n"), strconv.Itoa(i), nil))
		seen[e.App]++
	}
	if seen["b1"] == 0 || seen["b2"] == 0 || seen["b1"]+seen["b2"] != 20 {
		t.Fatalf("calls per instance: %v", seen)
	}
}
