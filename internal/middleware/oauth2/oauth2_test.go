package oauth2

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/outrigger/outrigger/internal/middleware"
	mt "github.com/outrigger/outrigger/internal/middleware/middlewaretest"
)

// authServer is a small OAuth2 authorization server: /authorize logs the
// user in at once and sends the browser back with a one-time code, /token
// exchanges that code for an access token.
type authServer struct {
	srv   *httptest.Server
	mu    sync.Mutex
	codes map[string]string // code -> redirect_uri it was issued for
}

func newAuthServer(t *testing.T) *authServer {
	a := &authServer{codes: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("response_type") != "code" || q.Get("client_id") != "id" || q.Get("state") == "" || q.Get("scope") != "openid email" {
			http.Error(w, "bad authorization request: "+r.URL.RawQuery, http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		code := "code-" + q.Get("state")[:8]
		a.codes[code] = q.Get("redirect_uri")
		a.mu.Unlock()
		back, _ := url.Parse(q.Get("redirect_uri"))
		v := back.Query()
		v.Set("code", code)
		v.Set("state", q.Get("state"))
		back.RawQuery = v.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.Form.Get("client_id"), r.Form.Get("client_secret")
		}
		a.mu.Lock()
		redirect, known := a.codes[r.Form.Get("code")]
		delete(a.codes, r.Form.Get("code"))
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if id != "id" || secret != "secret" || !known || redirect != r.Form.Get("redirect_uri") || r.Form.Get("grant_type") != "authorization_code" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"invalid_grant"}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "user-token", "token_type": "Bearer", "expires_in": 3600})
	})
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

// api serves the protected app behind the middleware; the redirect URL
// points back at it.
func api(t *testing.T, a *authServer, extra map[string]string) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	m := &AuthCode{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { m.Handler(mt.Echo("X-Auth")).ServeHTTP(w, r) })
	srv = httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	props := map[string]string{
		"clientID": "id", "clientSecret": "secret", "scopes": "openid,email",
		"authURL": a.srv.URL + "/authorize", "tokenURL": a.srv.URL + "/token",
		"redirectURL": srv.URL + "/callback", "authHeaderName": "X-Auth",
	}
	for k, v := range extra {
		props[k] = v
	}
	if err := m.Init(context.Background(), middleware.Metadata{Name: "oauth2", Properties: props}); err != nil {
		t.Fatal(err)
	}
	return srv
}

func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

func get(t *testing.T, c *http.Client, u string) (int, string, *http.Response) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp
}

func TestAuthorizationCodeFlow(t *testing.T) {
	a := newAuthServer(t)
	srv := api(t, a, nil)
	c := browser(t)
	// One GET follows the whole dance: API → authorize → callback → API.
	status, body, resp := get(t, c, srv.URL+"/v1.0/invoke/app/method/profile?x=1")
	if status != http.StatusOK {
		t.Fatalf("status %d %q", status, body)
	}
	if got := resp.Header.Get("X-Got-X-Auth"); got != "Bearer user-token" {
		t.Errorf("token header = %q, want \"Bearer user-token\"", got)
	}
	if body != "GET /v1.0/invoke/app/method/profile?x=1|" {
		t.Errorf("landed on %q, want the page first asked for", body)
	}
	// The session is remembered: no more trips to the server.
	noRedirect := &http.Client{Jar: c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	status, _, resp = get(t, noRedirect, srv.URL+"/other")
	if status != http.StatusOK || resp.Header.Get("X-Got-X-Auth") != "Bearer user-token" {
		t.Errorf("second request: %d, token %q", status, resp.Header.Get("X-Got-X-Auth"))
	}
}

func TestAuthorizationCodeFlowRedirect(t *testing.T) {
	a := newAuthServer(t)
	srv := api(t, a, map[string]string{"forceHTTPS": "true"})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	status, _, resp := get(t, c, srv.URL+"/page")
	if status != http.StatusFound {
		t.Fatalf("status %d, want 302", status)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), a.srv.URL+"/authorize?") {
		t.Fatalf("Location = %q", resp.Header.Get("Location"))
	}
	if loc.Query().Get("redirect_uri") != srv.URL+"/callback" || loc.Query().Get("access_type") != "offline" {
		t.Errorf("authorization request = %q", loc.RawQuery)
	}
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == cookieName {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.HttpOnly || !cookie.Secure {
		t.Fatalf("session cookie = %+v, want HttpOnly and Secure (forceHTTPS)", cookie)
	}
}

func TestAuthorizationCodeCallbackErrors(t *testing.T) {
	a := newAuthServer(t)
	srv := api(t, a, nil)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// Start a login to get a session with a pending state.
	_, _, resp := get(t, c, srv.URL+"/page")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	state := loc.Query().Get("state")
	session := resp.Cookies()[0]
	tests := []struct {
		name       string
		query      string
		withCookie bool
		want       int
		wantBody   string
	}{
		{"no code", "state=" + state, true, http.StatusBadRequest, "code not found"},
		{"state of another login", "state=forged&code=x", true, http.StatusBadRequest, "invalid state"},
		{"no session", "state=" + state + "&code=x", false, http.StatusBadRequest, "invalid state"},
		{"code the server rejects", "state=" + state + "&code=never-issued", true, http.StatusInternalServerError, "error exchanging token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := mt.NewRequest(t, http.MethodGet, srv.URL+"/callback?"+tt.query, nil)
			if tt.withCookie {
				req.AddCookie(session)
			}
			status, body, _ := mt.Do(t, req)
			if status != tt.want || body != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", status, body, tt.want, tt.wantBody)
			}
		})
	}
}

func TestAuthorizationCodePathFilter(t *testing.T) {
	a := newAuthServer(t)
	srv := api(t, a, map[string]string{"pathFilter": "^/secure"})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if status, _, _ := get(t, c, srv.URL+"/public"); status != http.StatusOK {
		t.Errorf("unfiltered path: %d, want 200", status)
	}
	if status, _, _ := get(t, c, srv.URL+"/secure/x"); status != http.StatusFound {
		t.Errorf("filtered path: %d, want 302", status)
	}
}

func TestAuthorizationCodeConfig(t *testing.T) {
	base := map[string]string{"clientID": "id", "clientSecret": "s", "authURL": "http://a", "tokenURL": "http://t"}
	for _, change := range []map[string]string{{"clientID": ""}, {"tokenURL": ""}, {"forceHTTPS": "maybe"}, {"pathFilter": "("}} {
		props := map[string]string{}
		for k, v := range base {
			props[k] = v
		}
		for k, v := range change {
			props[k] = v
		}
		if err := (&AuthCode{}).Init(context.Background(), middleware.Metadata{Properties: props}); err == nil {
			t.Errorf("Init with %v succeeded", change)
		}
	}
}
