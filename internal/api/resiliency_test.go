package api_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/outrigger/outrigger/internal/api"
	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/configuration"
	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/resources"
	"github.com/outrigger/outrigger/internal/secretstores"
	"github.com/outrigger/outrigger/internal/state"
)

// failing fails its first n calls, then succeeds.
type failing struct {
	left  atomic.Int32
	calls atomic.Int32
}

func failFirst(n int) *failing {
	f := &failing{}
	f.left.Store(int32(n))
	return f
}

func (f *failing) call() error {
	f.calls.Add(1)
	if f.left.Add(-1) >= 0 {
		return errors.New("connection reset by peer")
	}
	return nil
}

// outboundRetries is a provider where every outbound component call is
// retried up to 3 times, 1ms apart.
func outboundRetries(t *testing.T) *resiliency.Provider {
	t.Helper()
	retries := 3
	p, err := resiliency.New([]resources.Resiliency{{
		Metadata: resources.ObjectMeta{Name: "r"},
		Spec: resources.ResiliencySpec{Policies: resources.Policies{Retries: map[string]resources.RetryPolicy{
			"DefaultComponentOutboundRetryPolicy": {Duration: "1ms", MaxRetries: &retries},
		}}},
	}}, resiliency.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// flakyStore is a state store whose reads and writes fail at first; a
// slow store waits for its context on reads instead.
type flakyStore struct {
	state.Store
	fail *failing
	slow bool
}

func (s *flakyStore) Get(ctx context.Context, req state.GetRequest) (state.GetResponse, error) {
	if s.slow {
		<-ctx.Done()
		return state.GetResponse{}, ctx.Err()
	}
	if err := s.fail.call(); err != nil {
		return state.GetResponse{}, err
	}
	return s.Store.Get(ctx, req)
}

func (s *flakyStore) Set(ctx context.Context, req state.SetRequest) error {
	if err := s.fail.call(); err != nil {
		return err
	}
	return s.Store.Set(ctx, req)
}

func flakyStateCore(t *testing.T, p *resiliency.Provider, fs *flakyStore) *api.Core {
	mem := newMemoryStore(t, "store")
	fs.Store = mem.Store
	comp := state.NewComponent("store", "state.flaky", "v1", fs, mem.Keys, false)
	return api.New(api.Config{AppID: "myapp", StateStores: []*state.Component{comp}, Resiliency: p})
}

func TestStateRetriedByPolicy(t *testing.T) {
	fs := &flakyStore{fail: failFirst(2)}
	core := flakyStateCore(t, outboundRetries(t), fs)
	ctx := context.Background()
	err := core.SaveState(ctx, &runtimev1.SaveStateRequest{StoreName: "store", States: []*commonv1.StateItem{{Key: "k", Value: []byte("v")}}})
	if err != nil {
		t.Fatalf("save: %v", err)
	}
	if n := fs.fail.calls.Load(); n != 3 {
		t.Fatalf("%d store calls, want 3 (two failures, then success)", n)
	}
	fs.fail = failFirst(1)
	res, err := core.GetState(ctx, &runtimev1.GetStateRequest{StoreName: "store", Key: "k"})
	if err != nil || string(res.GetData()) != "v" {
		t.Fatalf("get: %q, %v", res.GetData(), err)
	}

	// Without a provider the first failure is the answer.
	fs2 := &flakyStore{fail: failFirst(1)}
	plain := flakyStateCore(t, nil, fs2)
	_, err = plain.GetState(ctx, &runtimev1.GetStateRequest{StoreName: "store", Key: "k"})
	if e := apierr.From(err); e.Code != "ERR_STATE_GET" {
		t.Fatalf("no policy: %v", err)
	}
}

func TestStateTimeoutPolicy(t *testing.T) {
	p, err := resiliency.New([]resources.Resiliency{{
		Metadata: resources.ObjectMeta{Name: "r"},
		Spec: resources.ResiliencySpec{
			Policies: resources.Policies{Timeouts: map[string]resources.Duration{"fast": "20ms"}},
			Targets: resources.Targets{Components: map[string]resources.ComponentPolicyNames{
				"store": {Outbound: resources.PolicyNames{Timeout: "fast"}},
			}},
		},
	}}, resiliency.Options{})
	if err != nil {
		t.Fatal(err)
	}
	core := flakyStateCore(t, p, &flakyStore{fail: failFirst(0), slow: true})
	_, err = core.GetState(context.Background(), &runtimev1.GetStateRequest{StoreName: "store", Key: "k"})
	e := apierr.From(err)
	if e.Code != "ERR_STATE_GET" || e.HTTPStatus != 500 || e.Message != "fail to get k from state store store: context deadline exceeded" {
		t.Fatalf("got %s/%d %q", e.Code, e.HTTPStatus, e.Message)
	}
}

// flakyBroker fails its first publishes.
type flakyBroker struct {
	fakeBroker
	fail *failing
}

func (b *flakyBroker) Publish(ctx context.Context, req *pubsub.PublishRequest) error {
	if err := b.fail.call(); err != nil {
		return err
	}
	return b.fakeBroker.Publish(ctx, req)
}

func TestPublishRetriedByPolicy(t *testing.T) {
	b := &flakyBroker{fail: failFirst(2)}
	ps := pubsub.NewComponent("ps", "pubsub.fake", "v1", b, pubsub.Scopes{})
	core := api.New(api.Config{AppID: "myapp", PubSubs: []*pubsub.Component{ps}, Resiliency: outboundRetries(t)})
	err := core.PublishEvent(context.Background(), &runtimev1.PublishEventRequest{PubsubName: "ps", Topic: "t", Data: []byte(`{}`), DataContentType: "application/json"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(b.all()); n != 1 || b.fail.calls.Load() != 3 {
		t.Fatalf("published %d, %d attempts; want 1 after 3 attempts", n, b.fail.calls.Load())
	}
}

// flakyBinding is an output binding that fails at first.
type flakyBinding struct{ fail *failing }

func (b *flakyBinding) Init(context.Context, bindings.Metadata) error { return nil }
func (b *flakyBinding) Operations() []string                          { return []string{"create"} }
func (b *flakyBinding) Close() error                                  { return nil }
func (b *flakyBinding) Invoke(_ context.Context, req *bindings.InvokeRequest) (*bindings.InvokeResponse, error) {
	if err := b.fail.call(); err != nil {
		return nil, err
	}
	return &bindings.InvokeResponse{Data: req.Data}, nil
}

func TestOutputBindingRetriedByPolicy(t *testing.T) {
	b := &flakyBinding{fail: failFirst(3)}
	core := api.New(api.Config{AppID: "myapp", Outputs: []*api.OutputBinding{{Name: "out", Binding: b}}, Resiliency: outboundRetries(t)})
	res, err := core.InvokeBinding(context.Background(), &runtimev1.InvokeBindingRequest{Name: "out", Operation: "create", Data: []byte("x")})
	if err != nil || string(res.GetData()) != "x" {
		t.Fatalf("invoke: %v %v", res, err)
	}
	// maxRetries 3: a fourth failure is final.
	b.fail = failFirst(4)
	_, err = core.InvokeBinding(context.Background(), &runtimev1.InvokeBindingRequest{Name: "out", Operation: "create"})
	if e := apierr.From(err); e.Code != "ERR_INVOKE_OUTPUT_BINDING" || !strings.Contains(e.Message, "connection reset") {
		t.Fatalf("exhausted retries: %v", err)
	}
	if n := b.fail.calls.Load(); n != 4 {
		t.Fatalf("%d attempts, want 4", n)
	}
}

// flakySecrets fails at first.
type flakySecrets struct{ fail *failing }

func (s *flakySecrets) Init(context.Context, secretstores.Metadata) error { return nil }
func (s *flakySecrets) Features() []secretstores.Feature                  { return nil }
func (s *flakySecrets) Close() error                                      { return nil }
func (s *flakySecrets) GetSecret(_ context.Context, name string, _ map[string]string) (map[string]string, error) {
	if err := s.fail.call(); err != nil {
		return nil, err
	}
	return map[string]string{name: "shh"}, nil
}
func (s *flakySecrets) BulkGetSecret(context.Context, map[string]string) (map[string]map[string]string, error) {
	if err := s.fail.call(); err != nil {
		return nil, err
	}
	return map[string]map[string]string{"a": {"a": "1"}}, nil
}

func TestSecretsRetriedByPolicy(t *testing.T) {
	s := &flakySecrets{fail: failFirst(2)}
	core := api.New(api.Config{AppID: "myapp", Secrets: []*secretstores.Component{{Name: "vault", Store: s}}, Resiliency: outboundRetries(t)})
	res, err := core.GetSecret(context.Background(), &runtimev1.GetSecretRequest{StoreName: "vault", Key: "k"})
	if err != nil || res.GetData()["k"] != "shh" {
		t.Fatalf("get secret: %v %v", res, err)
	}
	s.fail = failFirst(1)
	if _, err := core.GetBulkSecret(context.Background(), &runtimev1.GetBulkSecretRequest{StoreName: "vault"}); err != nil {
		t.Fatalf("bulk: %v", err)
	}
}

// flakyConfig is a configuration store whose reads fail at first.
type flakyConfig struct{ fail *failing }

func (c *flakyConfig) Init(context.Context, configuration.Metadata) error { return nil }
func (c *flakyConfig) Get(context.Context, []string, map[string]string) (map[string]*configuration.Item, error) {
	if err := c.fail.call(); err != nil {
		return nil, err
	}
	return map[string]*configuration.Item{"k": {Value: "v"}}, nil
}
func (c *flakyConfig) Subscribe(context.Context, []string, map[string]string, configuration.UpdateHandler) (string, error) {
	return "", errors.New("not supported")
}
func (c *flakyConfig) Unsubscribe(context.Context, string) error { return nil }
func (c *flakyConfig) Close() error                              { return nil }

func TestConfigurationRetriedByPolicy(t *testing.T) {
	c := &flakyConfig{fail: failFirst(2)}
	core := api.New(api.Config{AppID: "myapp", Configs: []*configuration.Component{{Name: "cfg", Store: c}}, Resiliency: outboundRetries(t)})
	res, err := core.GetConfiguration(context.Background(), &runtimev1.GetConfigurationRequest{StoreName: "cfg"})
	if err != nil || res.GetItems()["k"].GetValue() != "v" {
		t.Fatalf("get configuration: %v %v", res, err)
	}
	if n := c.fail.calls.Load(); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
}
