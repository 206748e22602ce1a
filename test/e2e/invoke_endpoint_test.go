package e2e

import (
	"net/http/httptest"
	"net/url"
	"testing"
)

// TestInvokeHTTPEndpoint calls an external service by HTTPEndpoint name and
// by its full URL.
func TestInvokeHTTPEndpoint(t *testing.T) {
	ext := httptest.NewServer(echoApp("ext"))
	t.Cleanup(ext.Close)
	dir := t.TempDir()
	writeFile(t, dir, "ext.yaml", `apiVersion: dapr.io/v1alpha1
kind: HTTPEndpoint
metadata:
  name: ext
spec:
  baseUrl: `+ext.URL+`
  headers:
  - name: X-Api-Key
    value: k1
`)
	ia := freePort(t)
	a := startPeers(t, peer{appID: "svc-a", internal: ia, config: staticConfig(t, map[string][]int{"svc-a": {ia}}),
		args: []string{"--resources-path", dir}})[0]

	t.Run("by name", func(t *testing.T) {
		e := decodeEcho(t, call(t, "POST", a.url("/v1.0/invoke/ext/method/v2/things?page=3"), "thing", map[string]string{"X-Api-Key": "from-caller", "X-Other": "o"}))
		checks := []struct{ what, got, want string }{
			{"app", e.App, "ext"},
			{"method", e.Method, "POST"},
			{"path", e.Path, "/v2/things"},
			{"query", e.RawQuery, "page=3"},
			{"body", e.Body, "thing"},
			{"X-Api-Key", e.Header.Get("X-Api-Key"), "k1"},
			{"X-Other", e.Header.Get("X-Other"), "o"},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
			}
		}
	})

	t.Run("by full URL", func(t *testing.T) {
		e := decodeEcho(t, call(t, "GET", a.url("/v1.0/invoke/"+url.QueryEscape(ext.URL)+"/method/some/path?q=1"), "", nil))
		if e.App != "ext" || e.Method != "GET" || e.Path != "/some/path" || e.RawQuery != "q=1" {
			t.Fatalf("echo %+v", e)
		}
		if v := e.Header.Get("X-Api-Key"); v != "" {
			t.Errorf("full-URL call carries the endpoint's header X-Api-Key %q", v)
		}
	})
}
