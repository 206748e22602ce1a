package api_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/outrigger/outrigger/internal/api"
	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/configuration"
	"github.com/outrigger/outrigger/internal/configuration/configtest"
	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/resources"
)

// The policies the component tests below pick from by name.
func testPolicies() resources.Policies {
	three := 3
	return resources.Policies{
		Timeouts: map[string]resources.Duration{"short": "20ms"},
		Retries:  map[string]resources.RetryPolicy{"three": {Duration: "1ms", MaxRetries: &three}},
		CircuitBreakers: map[string]resources.CircuitBreakerPolicy{
			"cb": {Trip: "consecutiveFailures >= 2", Timeout: "1h"},
		},
	}
}

// componentPolicy is a provider with a target for component name.
func componentPolicy(t *testing.T, name string, outbound, inbound resources.PolicyNames) *resiliency.Provider {
	t.Helper()
	p, err := resiliency.New([]resources.Resiliency{{
		Metadata: resources.ObjectMeta{Name: "r"},
		Spec: resources.ResiliencySpec{Policies: testPolicies(), Targets: resources.Targets{
			Components: map[string]resources.ComponentPolicyNames{name: {Outbound: outbound, Inbound: inbound}},
		}},
	}}, resiliency.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// flakySubscriptions is an in-memory configuration store whose Subscribe
// and Unsubscribe fail at first; a slow one holds Subscribe until its
// context ends.
type flakySubscriptions struct {
	*configtest.Memory
	sub, unsub *failing
	slow       bool
	budget     atomic.Int64 // ns the last Subscribe had before its deadline
}

func (s *flakySubscriptions) Subscribe(ctx context.Context, keys []string, md map[string]string, h configuration.UpdateHandler) (string, error) {
	if dl, ok := ctx.Deadline(); ok {
		s.budget.Store(int64(time.Until(dl)))
	}
	if s.slow {
		<-ctx.Done()
		return "", ctx.Err()
	}
	if err := s.sub.call(); err != nil {
		return "", err
	}
	return s.Memory.Subscribe(ctx, keys, md, h)
}

func (s *flakySubscriptions) Unsubscribe(ctx context.Context, id string) error {
	if err := s.unsub.call(); err != nil {
		return err
	}
	return s.Memory.Unsubscribe(ctx, id)
}

func flakyConfigCore(t *testing.T, p *resiliency.Provider, s *flakySubscriptions) *api.Core {
	t.Helper()
	s.Memory = configtest.NewMemory()
	t.Cleanup(func() { _ = s.Memory.Close() })
	if s.sub == nil {
		s.sub = failFirst(0)
	}
	if s.unsub == nil {
		s.unsub = failFirst(0)
	}
	core := api.New(api.Config{AppID: "app", Configs: []*configuration.Component{{Name: "cfg", Store: s}}, Resiliency: p})
	core.SetConfigUpdater(&fakeUpdater{got: make(chan *runtimev1.SubscribeConfigurationResponse, 4)})
	return core
}

// subscribeFn subscribes to key "a" of store "cfg" through one transport,
// the gRPC stream or the HTTP (app) subscription, and returns the id.
type subscribeFn func(t *testing.T, core *api.Core) (string, error)

func subscribeGRPC(t *testing.T, core *api.Core) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	rec := startStream(ctx, core, &runtimev1.SubscribeConfigurationRequest{StoreName: "cfg", Keys: []string{"a"}})
	select {
	case m := <-rec.msgs:
		return m.GetId(), nil
	case err := <-rec.done:
		return "", err
	}
}

func subscribeHTTP(_ *testing.T, core *api.Core) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := core.SubscribeConfigurationApp(ctx, &runtimev1.SubscribeConfigurationRequest{StoreName: "cfg", Keys: []string{"a"}})
	return res.GetId(), err
}

func TestConfigurationSubscribePolicy(t *testing.T) {
	transports := map[string]subscribeFn{"grpc": subscribeGRPC, "http": subscribeHTTP}
	tests := []struct {
		name      string
		outbound  resources.PolicyNames
		failures  int  // Subscribe calls that fail first
		slow      bool // Subscribe waits for its context
		attempts  int  // made on the first call
		wantErr   string
		thirdCall string // the error of a third call, when two are made first
	}{
		{name: "fails twice then subscribes", outbound: resources.PolicyNames{Retry: "three"},
			failures: 2, attempts: 3},
		{name: "retries exhausted", outbound: resources.PolicyNames{Retry: "three"},
			failures: 10, attempts: 4, wantErr: "connection reset by peer"},
		{name: "timeout", outbound: resources.PolicyNames{Timeout: "short"},
			slow: true, wantErr: "context deadline exceeded"},
		{name: "breaker opens", outbound: resources.PolicyNames{CircuitBreaker: "cb"},
			failures: 10, attempts: 1, wantErr: "connection reset by peer",
			thirdCall: "circuit breaker is open"},
	}
	for tname, subscribe := range transports {
		for _, tt := range tests {
			t.Run(tname+"/"+tt.name, func(t *testing.T) {
				store := &flakySubscriptions{sub: failFirst(tt.failures), slow: tt.slow}
				core := flakyConfigCore(t, componentPolicy(t, "cfg", tt.outbound, resources.PolicyNames{}), store)
				id, err := subscribe(t, core)
				checkSubscribeErr(t, id, err, tt.wantErr)
				if !store.slow {
					if n := store.sub.calls.Load(); int(n) != tt.attempts {
						t.Errorf("%d store calls, want %d", n, tt.attempts)
					}
				} else if b := time.Duration(store.budget.Load()); b > 5*time.Second {
					t.Errorf("Subscribe had %v left, want the policy's 20ms", b)
				}
				if tt.thirdCall == "" {
					return
				}
				_, err = subscribe(t, core)
				checkSubscribeErr(t, "", err, tt.wantErr)
				before := store.sub.calls.Load()
				_, err = subscribe(t, core)
				checkSubscribeErr(t, "", err, tt.thirdCall)
				if store.sub.calls.Load() != before {
					t.Error("the open breaker let the call reach the store")
				}
			})
		}
	}
}

func checkSubscribeErr(t *testing.T, id string, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil || id == "" {
			t.Fatalf("subscribe = %q, %v", id, err)
		}
		return
	}
	e := apierr.From(err)
	if e.Code != "ERR_CONFIGURATION_SUBSCRIBE" || !strings.HasSuffix(e.Message, ": "+want) {
		t.Fatalf("subscribe error = %s %q, want ERR_CONFIGURATION_SUBSCRIBE ending in %q", e.Code, e.Message, want)
	}
}

func TestConfigurationUnsubscribeRetried(t *testing.T) {
	store := &flakySubscriptions{unsub: failFirst(2)}
	core := flakyConfigCore(t, componentPolicy(t, "cfg", resources.PolicyNames{Retry: "three"}, resources.PolicyNames{}), store)
	id, err := subscribeHTTP(t, core)
	if err != nil {
		t.Fatal(err)
	}
	res, err := core.UnsubscribeConfiguration(context.Background(), &runtimev1.UnsubscribeConfigurationRequest{StoreName: "cfg", Id: id})
	if err != nil || !res.GetOk() {
		t.Fatalf("unsubscribe = %v, %v", res, err)
	}
	if n := store.unsub.calls.Load(); n != 3 {
		t.Errorf("%d unsubscribe calls, want 3", n)
	}
	if n := store.Subscriptions(); n != 0 {
		t.Errorf("store still has %d subscriptions", n)
	}
}

// TestConfigUpdatesUseInboundPolicy: the core hands the updater the
// store's inbound policy, not its outbound one.
func TestConfigUpdatesUseInboundPolicy(t *testing.T) {
	p := componentPolicy(t, "cfg", resources.PolicyNames{}, resources.PolicyNames{Retry: "three"})
	m := configtest.NewMemory()
	t.Cleanup(func() { _ = m.Close() })
	core := api.New(api.Config{AppID: "app", Configs: []*configuration.Component{{Name: "cfg", Store: m}}, Resiliency: p})
	u := &policyUpdater{got: make(chan resiliency.Policy, 1)}
	core.SetConfigUpdater(u)
	if _, err := core.SubscribeConfigurationApp(context.Background(), &runtimev1.SubscribeConfigurationRequest{StoreName: "cfg"}); err != nil {
		t.Fatal(err)
	}
	set(t, m, "a", configuration.Item{Value: "1"})
	select {
	case pol := <-u.got:
		if !pol.HasRetries() || pol.Target().Direction != resiliency.Inbound || pol.Target().Name != "cfg" {
			t.Fatalf("policy = %+v, want cfg's inbound retries", pol.Target())
		}
	default:
		t.Fatal("no update reached the updater")
	}
}

type policyUpdater struct{ got chan resiliency.Policy }

func (u *policyUpdater) UpdateConfiguration(_ context.Context, _ string, _ *runtimev1.SubscribeConfigurationResponse, pol resiliency.Policy) error {
	u.got <- pol
	return nil
}

func TestAppConfigUpdaterPolicy(t *testing.T) {
	update := &runtimev1.SubscribeConfigurationResponse{Id: "s", Items: map[string]*commonv1.ConfigurationItem{"k": {Value: "v"}}}
	tests := []struct {
		name    string
		inbound resources.PolicyNames
		script  []int
		calls   int // updates sent
		posts   int // calls the app gets in all
		wantErr error
	}{
		{name: "rejected twice then accepted", inbound: resources.PolicyNames{Retry: "three"},
			script: []int{500, 503}, calls: 1, posts: 3},
		{name: "rejections exhausted are logged", inbound: resources.PolicyNames{Retry: "three"},
			script: []int{500, 500, 500, 500, 500}, calls: 1, posts: 4},
		{name: "no policy: one post", script: []int{500}, calls: 1, posts: 1},
		{name: "timeout", inbound: resources.PolicyNames{Timeout: "short"},
			script: []int{hang}, calls: 1, posts: 1, wantErr: context.DeadlineExceeded},
		{name: "breaker opens", inbound: resources.PolicyNames{CircuitBreaker: "cb"},
			script: []int{500, 500, 500}, calls: 3, posts: 2, wantErr: resiliency.ErrCircuitOpen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, ch := newConfigApp(t, http.StatusOK)
			app.script = tt.script
			pol := componentPolicy(t, "cfg", resources.PolicyNames{}, tt.inbound).ComponentInbound("cfg", resiliency.Configuration)
			u := api.NewAppConfigUpdater(ch, nil)
			var err error
			for range tt.calls {
				err = u.UpdateConfiguration(context.Background(), "cfg", update, pol)
			}
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("last update = %v, want %v", err, tt.wantErr)
			}
			if n := len(app.received()); n != tt.posts {
				t.Errorf("app got %d posts, want %d", n, tt.posts)
			}
		})
	}
}
