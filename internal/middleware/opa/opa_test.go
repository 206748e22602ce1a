package opa

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/middleware"
	mt "github.com/outrigger/outrigger/internal/middleware/middlewaretest"
)

// A policy in the original Rego syntax, as in Dapr's documentation.
const v0Policy = `package http

default allow = false

allow = true {
	input.request.method == "GET"
	input.request.path_parts[0] == "public"
}

allow = {"status_code": 301, "additional_headers": {"location": "https://login.example"}} {
	input.request.path == "/private"
}

allow = {"allow": true, "additional_headers": {"x-user": user}} {
	user := input.request.headers["X-User-Id"]
	input.request.query["greet"][0] == "yes"
}

allow = {"allow": false, "status_code": 418} {
	input.request.path == "/teapot"
}
`

// The same idea in Rego v1 syntax.
const v1Policy = `package http

default allow := false

allow if input.request.body == "let me in"
`

func TestOPA(t *testing.T) {
	tests := []struct {
		name       string
		props      map[string]string
		method     string
		path       string
		body       string
		header     map[string]string
		wantStatus int
		wantBody   string
		wantHeader [2]string // response header that must be set
	}{
		{"boolean allow", nil, "GET", "/public/page", "", nil, 200, "GET /public/page|", [2]string{}},
		{"boolean deny with the default status", nil, "POST", "/public/page", "", nil, 403, "Forbidden", [2]string{}},
		{"custom default status", map[string]string{"defaultStatus": "401"}, "POST", "/x", "", nil, 401, "Unauthorized", [2]string{}},
		{"object deny: status and response headers", nil, "GET", "/private", "", nil, 301, "Moved Permanently", [2]string{"Location", "https://login.example"}},
		{"object deny keeps the default status", nil, "GET", "/teapot", "", nil, 418, "I'm a teapot", [2]string{}},
		{"object allow adds request headers; included header seen", map[string]string{"includedHeaders": "x-user-id, other"},
			"GET", "/hello?greet=yes", "", map[string]string{"X-User-Id": "ada"}, 200, "GET /hello?greet=yes|", [2]string{"X-Got-X-User", "ada"}},
		{"header not included is invisible", nil, "GET", "/hello?greet=yes", "", map[string]string{"X-User-Id": "ada"}, 403, "Forbidden", [2]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			props := map[string]string{"rego": v0Policy}
			for k, v := range tt.props {
				props[k] = v
			}
			srv := mt.Serve(t, &Policy{}, props, mt.Echo("X-User"))
			req := mt.NewRequest(t, tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			body := string(b)
			if resp.StatusCode != tt.wantStatus || body != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			if tt.wantHeader[0] != "" && resp.Header.Get(tt.wantHeader[0]) != tt.wantHeader[1] {
				t.Errorf("%s = %q, want %q", tt.wantHeader[0], resp.Header.Get(tt.wantHeader[0]), tt.wantHeader[1])
			}
		})
	}
}

func TestOPAReadsBodyWithV1Syntax(t *testing.T) {
	srv := mt.Serve(t, &Policy{}, map[string]string{"rego": v1Policy, "readBody": "true"}, mt.Echo())
	for body, want := range map[string]int{"let me in": 200, "no": 403} {
		status, got, _ := mt.Do(t, mt.NewRequest(t, "POST", srv.URL+"/x", strings.NewReader(body)))
		if status != want {
			t.Errorf("body %q: %d, want %d", body, status, want)
		}
		if status == 200 && got != "POST /x|let me in" {
			t.Errorf("the app did not get the body back: %q", got)
		}
	}
}

func TestOPAPolicyErrorsDeny(t *testing.T) {
	tests := []struct{ name, rego string }{
		{"wrong result type", "package http\nallow = \"yes\"\n"},
		{"no allow rule", "package http\nother = true\n"},
		{"bad status code", "package http\nallow = {\"allow\": false, \"status_code\": 42}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mt.Serve(t, &Policy{}, map[string]string{"rego": tt.rego}, mt.Echo())
			status, _, resp := mt.Do(t, mt.NewRequest(t, "GET", srv.URL+"/x", nil))
			if status != 403 || resp.Header.Get(errorHeader) != "true" {
				t.Errorf("got %d, %s=%q; want 403 with the error header", status, errorHeader, resp.Header.Get(errorHeader))
			}
		})
	}
}

func TestOPAConfig(t *testing.T) {
	for _, props := range []map[string]string{
		{},
		{"rego": "this is not rego"},
		{"rego": v0Policy, "defaultStatus": "abc"},
		{"rego": v0Policy, "defaultStatus": "1000"},
		{"rego": v0Policy, "readBody": "perhaps"},
	} {
		if err := (&Policy{}).Init(context.Background(), middleware.Metadata{Properties: props}); err == nil {
			t.Errorf("Init(%v) succeeded", props)
		}
	}
}
