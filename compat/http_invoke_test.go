package compat

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// httpInvoke calls the same apps through the caller sidecar's HTTP API, in
// the path form and the dapr-app-id header form (http-api.md §4).
func httpInvoke(t *testing.T, e *invokeEnv) {
	base := e.caller.HTTPBase()
	cases := []struct {
		name, url string
		header    http.Header
	}{
		{"path", base + "/v1.0/invoke/" + e.callee.id + "/method/echo?a=1&b=x%20y", nil},
		{"header", base + "/echo?a=1&b=x%20y", http.Header{"Dapr-App-Id": {e.callee.id}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := httpDo(t, http.MethodPost, tc.url, tc.header, "text/plain", "hi")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("POST %s: %s %q, want 200", tc.url, resp.Status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != echoContentType {
				t.Errorf("POST %s: Content-Type %q, want the app's %q", tc.url, ct, echoContentType)
			}
			got := decodeEcho(t, []byte(body))
			checkEcho(t, got, echoReply{Verb: "POST", Query: "a=1&b=x%20y", ContentType: "text/plain", Data: []byte("hi")})
			if got.Caller != e.callerID || got.Callee != e.callee.id {
				t.Errorf("app saw caller %q callee %q, want %q %q", got.Caller, got.Callee, e.callerID, e.callee.id)
			}
		})
	}
	t.Run("handler-error", func(t *testing.T) {
		url := base + "/v1.0/invoke/" + e.callee.id + "/method/fail"
		resp, body := httpDo(t, http.MethodPost, url, nil, "text/plain", "x")
		// HTTP apps' 500 is relayed verbatim; a gRPC app's Unknown maps
		// to 500 with the status as JSON (errors.md §4).
		if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, errFail.Error()) {
			t.Errorf("POST %s: %s %q, want 500 with %q", url, resp.Status, body, errFail)
		}
	})
}

func httpDo(t *testing.T, method, url string, header http.Header, contentType, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(callCtx(t), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp, string(b)
}
