package invoke

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/resources"
)

// policyFor builds a provider with policies and apps.<app> using names.
func policyFor(t *testing.T, pol resources.Policies, app string, names resources.EndpointPolicyNames) *resiliency.Provider {
	t.Helper()
	tg := resources.Targets{}
	if app != "" {
		tg.Apps = map[string]resources.EndpointPolicyNames{app: names}
	}
	p, err := resiliency.New([]resources.Resiliency{{Metadata: resources.ObjectMeta{Name: "r"},
		Spec: resources.ResiliencySpec{Policies: pol, Targets: tg}}}, resiliency.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func retry5xx(t *testing.T, app string) *resiliency.Provider {
	retries := 3
	return policyFor(t, resources.Policies{Retries: map[string]resources.RetryPolicy{"r": {
		Duration: "1ms", MaxRetries: &retries, Matching: &resources.RetryMatching{HTTPStatusCodes: "500-599"},
	}}}, app, resources.EndpointPolicyNames{Retry: "r"})
}

// countingApp answers the first failures calls with code, then 200; it
// records the bodies and forwarding headers it saw.
type countingApp struct {
	mu        sync.Mutex
	failures  int
	code      int
	bodies    []string
	forwarded []int // number of X-Forwarded-For values per call
}

func (a *countingApp) handle(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.bodies = append(a.bodies, string(b))
	a.forwarded = append(a.forwarded, len(r.Header.Values("X-Forwarded-For")))
	n := len(a.bodies)
	a.mu.Unlock()
	if n <= a.failures {
		w.WriteHeader(a.code)
		_, _ = io.WriteString(w, "down")
		return
	}
	_, _ = io.WriteString(w, "ok:"+string(b))
}

func (a *countingApp) calls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.bodies)
}

func TestInvokePolicyRetriesAndReplaysBody(t *testing.T) {
	app := &countingApp{failures: 2, code: http.StatusServiceUnavailable}
	addr := serve(t, NewServer(newHandlerChannel(t, app.handle), nil))
	inv := newCaller(t, map[string]string{"callee": addr}, func(c *Config) { c.Resiliency = retry5xx(t, "callee") })
	resp, err := inv.Invoke(context.Background(), "callee", newRequest(t, http.MethodPost, "m", "payload", nil))
	if err != nil {
		t.Fatal(err)
	}
	if b := readBody(t, resp); b != "ok:payload" {
		t.Fatalf("body = %q", b)
	}
	if app.calls() != 3 {
		t.Fatalf("%d calls, want 3", app.calls())
	}
	for i, b := range app.bodies {
		if b != "payload" || app.forwarded[i] != 1 {
			t.Errorf("attempt %d: body %q, %d X-Forwarded-For values", i+1, b, app.forwarded[i])
		}
	}
}

func TestInvokePolicyGivesUp(t *testing.T) {
	tests := []struct {
		name      string
		code      int
		streamed  bool
		wantCalls int
	}{
		{"retries exhausted: the app's last answer", http.StatusBadGateway, false, 4},
		{"code not in matching", http.StatusNotFound, false, 1},
		{"streamed body is not retried", http.StatusServiceUnavailable, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := &countingApp{failures: 100, code: tt.code}
			inv := newCaller(t, nil, func(c *Config) {
				c.Local = newHandlerChannel(t, app.handle)
				c.Resiliency = retry5xx(t, "caller")
			})
			req := newRequest(t, http.MethodPost, "m", "payload", nil)
			if tt.streamed {
				req.Body = io.MultiReader(strings.NewReader("payload")) // size unknown
			}
			resp, err := inv.Invoke(context.Background(), "caller", req)
			if err != nil {
				t.Fatal(err)
			}
			if c := resp.Message.GetStatus().GetCode(); int(c) != tt.code {
				t.Errorf("status %d, want the app's %d", c, tt.code)
			}
			if b := readBody(t, resp); b != "down" {
				t.Errorf("body %q, want the app's", b)
			}
			if app.calls() != tt.wantCalls {
				t.Errorf("%d calls, want %d", app.calls(), tt.wantCalls)
			}
		})
	}
}

func TestInvokePolicyTimeout(t *testing.T) {
	p := policyFor(t, resources.Policies{Timeouts: map[string]resources.Duration{"t": "30ms"}}, "caller", resources.EndpointPolicyNames{Timeout: "t"})
	inv := newCaller(t, nil, func(c *Config) {
		c.Resiliency = p
		c.Local = newHandlerChannel(t, func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
			w.WriteHeader(http.StatusGatewayTimeout)
		})
	})
	_, err := inv.Invoke(context.Background(), "caller", newRequest(t, http.MethodGet, "slow", "", nil))
	e := apierr.From(err)
	if e.Code != "ERR_DIRECT_INVOKE" || e.HTTPStatus != 500 || e.Message != "failed to invoke, id: caller, err: context deadline exceeded" {
		t.Fatalf("got %s %d %q", e.Code, e.HTTPStatus, e.Message)
	}
}

func TestInvokePolicyKeepsStreamedAnswerAlive(t *testing.T) {
	// The timeout covers reading the answer: it must not end when Invoke
	// returns.
	p := policyFor(t, resources.Policies{Timeouts: map[string]resources.Duration{"t": "1h"}}, "callee", resources.EndpointPolicyNames{Timeout: "t"})
	big := strings.Repeat("x", 1<<20)
	addr := serve(t, NewServer(newHandlerChannel(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, big) }), nil))
	inv := newCaller(t, map[string]string{"callee": addr}, func(c *Config) { c.Resiliency = p })
	resp, err := inv.Invoke(context.Background(), "callee", newRequest(t, http.MethodGet, "m", "", nil))
	if err != nil {
		t.Fatal(err)
	}
	if b := readBody(t, resp); len(b) != len(big) {
		t.Fatalf("read %d bytes, want %d", len(b), len(big))
	}
}

func TestBuiltInServiceRetries(t *testing.T) {
	tests := []struct {
		name      string
		provider  func(t *testing.T) *resiliency.Provider
		wantCalls int32
	}{
		{"default: 3 retries", func(*testing.T) *resiliency.Provider { return nil }, 4},
		{"overridden: 5 retries", func(t *testing.T) *resiliency.Provider {
			five := 5
			return policyFor(t, resources.Policies{Retries: map[string]resources.RetryPolicy{
				resiliency.BuiltInServiceRetries: {Duration: "1ms", MaxRetries: &five},
			}}, "", resources.EndpointPolicyNames{})
		}, 6},
		{"a named app policy replaces them", func(t *testing.T) *resiliency.Provider {
			return policyFor(t, resources.Policies{Timeouts: map[string]resources.Duration{"t": "1m"}}, "callee", resources.EndpointPolicyNames{Timeout: "t"})
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peer := &flakyPeer{Server: NewServer(nil, nil), failures: 100, code: codes.Unavailable}
			addr := serve(t, peer)
			inv := newCaller(t, map[string]string{"callee": addr}, func(c *Config) { c.Resiliency = tt.provider(t) })
			_, err := inv.Invoke(context.Background(), "callee", newRequest(t, http.MethodGet, "m", "", nil))
			if e := apierr.From(err); e.Code != "ERR_DIRECT_INVOKE" {
				t.Fatalf("err = %v", err)
			}
			if got := peer.calls.Load(); got != tt.wantCalls {
				t.Errorf("%d calls, want %d", got, tt.wantCalls)
			}
		})
	}
}
