package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/outrigger/outrigger/internal/api"
	"github.com/outrigger/outrigger/internal/appchannel"
	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/testutil"
)

// appCall is one request the test app received.
type appCall struct {
	method, path, rawPath, contentType string
	body                               map[string]any
}

// hang, in a configApp script, makes the app hold the call until the
// caller gives up.
const hang = -1

// configApp is an HTTP app answering configuration updates with status,
// after the statuses in script, one per call.
type configApp struct {
	mu     sync.Mutex
	calls  []appCall
	status int
	script []int
}

// answer is the status of the next call.
func (a *configApp) answer() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.script) > 0 {
		s := a.script[0]
		a.script = a.script[1:]
		return s
	}
	return a.status
}

func newConfigApp(t *testing.T, status int) (*configApp, appchannel.Channel) {
	t.Helper()
	app := &configApp{status: status}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		app.mu.Lock()
		app.calls = append(app.calls, appCall{r.Method, r.URL.Path, r.URL.EscapedPath(), r.Header.Get("Content-Type"), body})
		app.mu.Unlock()
		code := app.answer()
		if code == hang {
			<-r.Context().Done()
			return
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	host, portStr, _ := net.SplitHostPort(u.Host)
	port, _ := strconv.Atoi(portStr)
	ch, err := appchannel.New(context.Background(), appchannel.Config{Address: host, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.Close() })
	return app, ch
}

func (a *configApp) received() []appCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]appCall(nil), a.calls...)
}

func TestAppConfigUpdater(t *testing.T) {
	app, ch := newConfigApp(t, http.StatusOK)
	u := api.NewAppConfigUpdater(ch, nil)
	update := &runtimev1.SubscribeConfigurationResponse{Id: "sub-1", Items: map[string]*commonv1.ConfigurationItem{
		"b":   {Value: "2", Version: "v2", Metadata: map[string]string{"m": "n"}},
		"a/x": {},
	}}
	if err := u.UpdateConfiguration(context.Background(), "cfg", update, resiliency.Policy{}); err != nil {
		t.Fatal(err)
	}
	calls := app.received()
	if len(calls) != 2 {
		t.Fatalf("app got %d calls, want one per key: %+v", len(calls), calls)
	}
	wantBody := map[string]any{"id": "sub-1", "items": map[string]any{
		"b":   map[string]any{"value": "2", "version": "v2", "metadata": map[string]any{"m": "n"}},
		"a/x": map[string]any{},
	}}
	wantPaths := []struct{ path, raw string }{{"/configuration/cfg/a/x", "/configuration/cfg/a%2Fx"}, {"/configuration/cfg/b", "/configuration/cfg/b"}}
	for i, c := range calls {
		if c.method != http.MethodPost || c.path != wantPaths[i].path || c.rawPath != wantPaths[i].raw || c.contentType != "application/json" {
			t.Errorf("call %d = %s %s (%s) %s", i, c.method, c.path, c.rawPath, c.contentType)
		}
		if got, _ := json.Marshal(c.body); string(got) != mustJSON(wantBody) {
			t.Errorf("call %d body = %s, want %s", i, got, mustJSON(wantBody))
		}
	}
}

// TestAppConfigUpdaterRejected: an app error is logged, not returned; an
// unreachable app is an error.
func TestAppConfigUpdaterRejected(t *testing.T) {
	app, ch := newConfigApp(t, http.StatusInternalServerError)
	u := api.NewAppConfigUpdater(ch, nil)
	update := &runtimev1.SubscribeConfigurationResponse{Id: "s", Items: map[string]*commonv1.ConfigurationItem{"k": {Value: "v"}}}
	if err := u.UpdateConfiguration(context.Background(), "cfg", update, resiliency.Policy{}); err != nil {
		t.Fatalf("rejected update returned %v", err)
	}
	if n := len(app.received()); n != 1 {
		t.Fatalf("app got %d calls", n)
	}

	closed, err := appchannel.New(context.Background(), appchannel.Config{Port: testutil.FreePort(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer closed.Close()
	if err := api.NewAppConfigUpdater(closed, nil).UpdateConfiguration(context.Background(), "cfg", update, resiliency.Policy{}); err == nil {
		t.Fatal("update to an unreachable app succeeded")
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
