package http_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	"github.com/outrigger/outrigger/internal/api"
	apihttp "github.com/outrigger/outrigger/internal/api/http"
	"github.com/outrigger/outrigger/internal/appchannel"
	"github.com/outrigger/outrigger/internal/configuration"
	"github.com/outrigger/outrigger/internal/configuration/configtest"
)

// newConfigServer serves the HTTP API over one in-memory configuration
// store "cfg" (none when withStore is false). app, when set, receives
// subscription updates through an app channel.
func newConfigServer(t *testing.T, withStore bool, app *httptest.Server) (*httptest.Server, *configtest.Memory) {
	t.Helper()
	m := configtest.NewMemory()
	t.Cleanup(func() { _ = m.Close() })
	var comps []*configuration.Component
	if withStore {
		comps = append(comps, &configuration.Component{Name: "cfg", Type: "configuration.memory", Version: "v1", Store: m})
	}
	core := api.New(api.Config{AppID: "myapp", Configs: comps})
	if app != nil {
		u, _ := url.Parse(app.URL)
		host, p, _ := net.SplitHostPort(u.Host)
		port, _ := strconv.Atoi(p)
		ch, err := appchannel.New(context.Background(), appchannel.Config{Address: host, Port: port})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ch.Close() })
		core.SetConfigUpdater(api.NewAppConfigUpdater(ch, nil))
	}
	srv := httptest.NewServer(apihttp.New(apihttp.Config{Core: core}))
	t.Cleanup(srv.Close)
	return srv, m
}

func TestConfigurationGet(t *testing.T) {
	srv, m := newConfigServer(t, true, nil)
	ctx := context.Background()
	_ = m.Set(ctx, "a", configuration.Item{Value: "1", Version: "v1", Metadata: map[string]string{"x": "y"}})
	_ = m.Set(ctx, "b", configuration.Item{Value: "2"})
	tests := []struct {
		name, path string
		status     int
		body       string
	}{
		{"one key", "/v1.0/configuration/cfg?key=a", 200, `{"a":{"value":"1","version":"v1","metadata":{"x":"y"}}}`},
		{"alpha1", "/v1.0-alpha1/configuration/cfg?key=b", 200, `{"b":{"value":"2"}}`},
		{"two keys and a missing one", "/v1.0/configuration/cfg?key=a&key=b&key=zz", 200, `{"a":{"value":"1","version":"v1","metadata":{"x":"y"}},"b":{"value":"2"}}`},
		{"all", "/v1.0/configuration/cfg", 200, `{"a":{"value":"1","version":"v1","metadata":{"x":"y"}},"b":{"value":"2"}}`},
		{"nothing found", "/v1.0/configuration/cfg?key=zz", 204, ``},
		{"escaped store name", "/v1.0/configuration/c%66g?key=b", 200, `{"b":{"value":"2"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, srv, http.MethodGet, tt.path, "", nil)
			if r.status != tt.status || r.body != tt.body {
				t.Fatalf("GET %s = %d %s; want %d %s", tt.path, r.status, r.body, tt.status, tt.body)
			}
			if tt.status == 200 && r.header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type = %q", r.header.Get("Content-Type"))
			}
		})
	}
}

func TestConfigurationHTTPErrors(t *testing.T) {
	srv, m := newConfigServer(t, true, nil)
	none, _ := newConfigServer(t, false, nil)
	tests := []struct {
		name       string
		srv        *httptest.Server
		method     string
		path       string
		failStore  bool
		wantStatus int
		wantCode   string
		wantReason string // ErrorInfo reason in details; "" = no details
	}{
		{"not configured", none, "GET", "/v1.0/configuration/cfg", false, 500, "ERR_CONFIGURATION_STORE_NOT_CONFIGURED", "ERR_CONFIGURATION_STORE_NOT_CONFIGURED"},
		{"not found", srv, "GET", "/v1.0/configuration/nope?key=a", false, 400, "ERR_CONFIGURATION_STORE_NOT_FOUND", "ERR_CONFIGURATION_STORE_NOT_FOUND"},
		{"store fails", srv, "GET", "/v1.0/configuration/cfg?key=a", true, 500, "ERR_CONFIGURATION_GET", "ERR_CONFIGURATION_GET"},
		{"subscribe without app", srv, "GET", "/v1.0/configuration/cfg/subscribe", false, 500, "ERR_APP_CHANNEL_NIL", ""},
		{"wrong method falls back to invoke", srv, "POST", "/v1.0/configuration/cfg", false, 404, "ERR_DIRECT_INVOKE", ""},
		{"unknown sub-route falls back", srv, "GET", "/v1.0/configuration/cfg/other", false, 404, "ERR_DIRECT_INVOKE", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.failStore {
				m.FailWith(io.ErrUnexpectedEOF)
				defer m.FailWith(nil)
			}
			r := do(t, tt.srv, tt.method, tt.path, "", nil)
			if r.status != tt.wantStatus || errorCode(t, r.body) != tt.wantCode {
				t.Fatalf("%s %s = %d %s; want %d %s", tt.method, tt.path, r.status, r.body, tt.wantStatus, tt.wantCode)
			}
			if got := detailReason(t, r.body); got != tt.wantReason {
				t.Errorf("ErrorInfo reason = %q, want %q (body %s)", got, tt.wantReason, r.body)
			}
		})
	}
}

func detailReason(t *testing.T, body string) string {
	t.Helper()
	var b struct {
		Details []struct {
			Type   string `json:"@type"`
			Reason string `json:"reason"`
		} `json:"details"`
	}
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	for _, d := range b.Details {
		if d.Type == "type.googleapis.com/google.rpc.ErrorInfo" {
			return d.Reason
		}
	}
	return ""
}

// TestConfigurationSubscribeToApp: an HTTP subscription posts updates to
// the app until it is unsubscribed.
func TestConfigurationSubscribeToApp(t *testing.T) {
	type post struct {
		path string
		body string
	}
	posts := make(chan post, 8)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		posts <- post{r.Method + " " + r.URL.Path, string(b)}
	}))
	t.Cleanup(app.Close)
	srv, m := newConfigServer(t, true, app)
	ctx := context.Background()

	r := do(t, srv, http.MethodGet, "/v1.0/configuration/cfg/subscribe?key=a&key=b", "", nil)
	var sub struct{ ID string }
	if err := json.Unmarshal([]byte(r.body), &sub); r.status != 200 || err != nil || sub.ID == "" {
		t.Fatalf("subscribe = %d %s", r.status, r.body)
	}

	if err := m.Set(ctx, "a", configuration.Item{Value: "1", Version: "v1"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(ctx, "other", configuration.Item{Value: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	want := []post{
		{"POST /configuration/cfg/a", `{"id":"` + sub.ID + `","items":{"a":{"value":"1","version":"v1"}}}`},
		{"POST /configuration/cfg/b", `{"id":"` + sub.ID + `","items":{"b":{}}}`},
	}
	for _, w := range want {
		select {
		case p := <-posts:
			if p != w {
				t.Fatalf("app got %+v, want %+v", p, w)
			}
		default:
			t.Fatalf("app did not get %+v", w)
		}
	}

	r = do(t, srv, http.MethodGet, "/v1.0-alpha1/configuration/cfg/"+sub.ID+"/unsubscribe", "", nil)
	if r.status != 200 || r.body != `{"ok":true}` {
		t.Fatalf("unsubscribe = %d %s", r.status, r.body)
	}
	if err := m.Set(ctx, "a", configuration.Item{Value: "2"}); err != nil {
		t.Fatal(err)
	}
	if len(posts) != 0 {
		t.Fatalf("app got an update after unsubscribe: %+v", <-posts)
	}
	r = do(t, srv, http.MethodGet, "/v1.0/configuration/cfg/"+sub.ID+"/unsubscribe", "", nil)
	wantBody := `{"ok":false,"message":"failed to unsubscribe to configuration request ` + sub.ID + `: subscription does not exist"}`
	if r.status != 500 || r.body != wantBody {
		t.Fatalf("second unsubscribe = %d %s; want 500 %s", r.status, r.body, wantBody)
	}
	r = do(t, srv, http.MethodGet, "/v1.0/configuration/nope/"+sub.ID+"/unsubscribe", "", nil)
	if r.status != 400 || errorCode(t, r.body) != "ERR_CONFIGURATION_STORE_NOT_FOUND" {
		t.Fatalf("unsubscribe on unknown store = %d %s", r.status, r.body)
	}
}
