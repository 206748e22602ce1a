package api_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc/codes"

	"github.com/outrigger/outrigger/internal/api"
	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/configuration"
	"github.com/outrigger/outrigger/internal/configuration/configtest"
	"github.com/outrigger/outrigger/internal/resiliency"
)

// newConfigCore builds a core with one in-memory configuration store "cfg".
func newConfigCore(t *testing.T) (*api.Core, *configtest.Memory) {
	t.Helper()
	m := configtest.NewMemory()
	t.Cleanup(func() { _ = m.Close() })
	core := api.New(api.Config{AppID: "app", Configs: []*configuration.Component{{Name: "cfg", Type: "configuration.memory", Version: "v1", Store: m}}})
	return core, m
}

func set(t *testing.T, m *configtest.Memory, key string, it configuration.Item) {
	t.Helper()
	if err := m.Set(context.Background(), key, it); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

func TestGetConfiguration(t *testing.T) {
	ctx := context.Background()
	core, m := newConfigCore(t)
	set(t, m, "a", configuration.Item{Value: "1", Version: "v1", Metadata: map[string]string{"x": "y"}})
	set(t, m, "b", configuration.Item{Value: "2"})

	res, err := core.GetConfiguration(ctx, &runtimev1.GetConfigurationRequest{StoreName: "cfg", Keys: []string{"a", "missing"}})
	if err != nil {
		t.Fatal(err)
	}
	a := res.GetItems()["a"]
	if len(res.GetItems()) != 1 || a.GetValue() != "1" || a.GetVersion() != "v1" || a.GetMetadata()["x"] != "y" {
		t.Fatalf("Get = %v", res.GetItems())
	}
	all, err := core.GetConfiguration(ctx, &runtimev1.GetConfigurationRequest{StoreName: "cfg"})
	if err != nil || len(all.GetItems()) != 2 {
		t.Fatalf("Get all = %v, %v", all.GetItems(), err)
	}
}

func TestConfigurationErrors(t *testing.T) {
	ctx := context.Background()
	core, m := newConfigCore(t)
	empty := api.New(api.Config{AppID: "app"})
	boom := errors.New("boom")
	tests := []struct {
		name     string
		call     func() error
		code     string
		http     int
		grpc     codes.Code
		message  string
		withBoom bool
	}{
		{"not configured", func() error {
			_, err := empty.GetConfiguration(ctx, &runtimev1.GetConfigurationRequest{StoreName: "cfg"})
			return err
		}, "ERR_CONFIGURATION_STORE_NOT_CONFIGURED", 500, codes.FailedPrecondition, "configuration stores not configured", false},
		{"not found", func() error {
			_, err := core.GetConfiguration(ctx, &runtimev1.GetConfigurationRequest{StoreName: "nope"})
			return err
		}, "ERR_CONFIGURATION_STORE_NOT_FOUND", 400, codes.InvalidArgument, "configuration store nope not found", false},
		{"get fails", func() error {
			_, err := core.GetConfiguration(ctx, &runtimev1.GetConfigurationRequest{StoreName: "cfg", Keys: []string{"a", "b"}})
			return err
		}, "ERR_CONFIGURATION_GET", 500, codes.Internal, "failed to get [a b] from Configuration store cfg: boom", true},
		{"subscribe fails", func() error {
			return core.SubscribeConfiguration(ctx, &runtimev1.SubscribeConfigurationRequest{StoreName: "cfg", Keys: []string{"a"}},
				func(*runtimev1.SubscribeConfigurationResponse) error { return nil })
		}, "ERR_CONFIGURATION_SUBSCRIBE", 500, codes.Internal, "failed to subscribe [a] from Configuration store cfg: boom", true},
		{"app subscribe without app", func() error {
			_, err := core.SubscribeConfigurationApp(ctx, &runtimev1.SubscribeConfigurationRequest{StoreName: "cfg"})
			return err
		}, "ERR_APP_CHANNEL_NIL", 500, codes.Internal, "app channel is nil", false},
		{"unsubscribe unknown", func() error {
			res, err := core.UnsubscribeConfiguration(ctx, &runtimev1.UnsubscribeConfigurationRequest{StoreName: "cfg", Id: "x"})
			if res.GetOk() || res.GetMessage() != apierr.From(err).Message {
				t.Errorf("unsubscribe response = %v", res)
			}
			return err
		}, "ERR_CONFIGURATION_UNSUBSCRIBE", 500, codes.Internal, "failed to unsubscribe to configuration request x: subscription does not exist", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.withBoom {
				m.FailWith(boom)
				defer m.FailWith(nil)
			}
			e := apierr.From(tt.call())
			if e.Code != tt.code || e.HTTPStatus != tt.http || e.GRPCCode != tt.grpc || e.Message != tt.message {
				t.Fatalf("error = %s %d %v %q; want %s %d %v %q", e.Code, e.HTTPStatus, e.GRPCCode, e.Message, tt.code, tt.http, tt.grpc, tt.message)
			}
		})
	}
}

// streamRecorder runs SubscribeConfiguration in the background and
// collects what it sends.
type streamRecorder struct {
	msgs chan *runtimev1.SubscribeConfigurationResponse
	done chan error
}

func startStream(ctx context.Context, core *api.Core, req *runtimev1.SubscribeConfigurationRequest) *streamRecorder {
	r := &streamRecorder{msgs: make(chan *runtimev1.SubscribeConfigurationResponse, 16), done: make(chan error, 1)}
	go func() {
		r.done <- core.SubscribeConfiguration(ctx, req, func(m *runtimev1.SubscribeConfigurationResponse) error {
			r.msgs <- m
			return nil
		})
	}()
	return r
}

func (r *streamRecorder) next(t *testing.T) *runtimev1.SubscribeConfigurationResponse {
	t.Helper()
	select {
	case m := <-r.msgs:
		return m
	case err := <-r.done:
		t.Fatalf("stream ended: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("no message")
	}
	return nil
}

func (r *streamRecorder) ended(t *testing.T) {
	t.Helper()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("stream ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stream did not end")
	}
}

func TestSubscribeConfigurationStream(t *testing.T) {
	ctx := context.Background()
	core, m := newConfigCore(t)
	rec := startStream(ctx, core, &runtimev1.SubscribeConfigurationRequest{StoreName: "cfg", Keys: []string{"a"}})
	first := rec.next(t)
	if first.GetId() == "" || len(first.GetItems()) != 0 {
		t.Fatalf("first message = %v; want only the id", first)
	}
	set(t, m, "a", configuration.Item{Value: "1", Version: "2"})
	upd := rec.next(t)
	if upd.GetId() != first.GetId() || upd.GetItems()["a"].GetValue() != "1" || upd.GetItems()["a"].GetVersion() != "2" {
		t.Fatalf("update = %v", upd)
	}

	// A different store name does not reach the subscription.
	if _, err := core.UnsubscribeConfiguration(ctx, &runtimev1.UnsubscribeConfigurationRequest{StoreName: "nope", Id: first.GetId()}); err == nil {
		t.Fatal("unsubscribe through an unknown store succeeded")
	}
	res, err := core.UnsubscribeConfiguration(ctx, &runtimev1.UnsubscribeConfigurationRequest{StoreName: "cfg", Id: first.GetId()})
	if err != nil || !res.GetOk() {
		t.Fatalf("unsubscribe = %v, %v", res, err)
	}
	rec.ended(t)
	if n := m.Subscriptions(); n != 0 {
		t.Fatalf("store still has %d subscriptions", n)
	}
}

// TestSubscribeConfigurationClientGone: the subscription stops with the
// stream's context.
func TestSubscribeConfigurationClientGone(t *testing.T) {
	core, m := newConfigCore(t)
	ctx, cancel := context.WithCancel(context.Background())
	rec := startStream(ctx, core, &runtimev1.SubscribeConfigurationRequest{StoreName: "cfg"})
	id := rec.next(t).GetId()
	cancel()
	rec.ended(t)
	if n := m.Subscriptions(); n != 0 {
		t.Fatalf("store still has %d subscriptions", n)
	}
	if _, err := core.UnsubscribeConfiguration(context.Background(), &runtimev1.UnsubscribeConfigurationRequest{StoreName: "cfg", Id: id}); err == nil {
		t.Fatal("unsubscribe of an ended stream succeeded")
	}
}

// fakeUpdater records what the core hands to the app.
type fakeUpdater struct {
	got chan *runtimev1.SubscribeConfigurationResponse
}

func (f *fakeUpdater) UpdateConfiguration(_ context.Context, store string, u *runtimev1.SubscribeConfigurationResponse, _ resiliency.Policy) error {
	if store != "cfg" {
		return errors.New("wrong store " + store)
	}
	f.got <- u
	return nil
}

func TestSubscribeConfigurationApp(t *testing.T) {
	ctx := context.Background()
	core, m := newConfigCore(t)
	f := &fakeUpdater{got: make(chan *runtimev1.SubscribeConfigurationResponse, 4)}
	core.SetConfigUpdater(f)
	res, err := core.SubscribeConfigurationApp(ctx, &runtimev1.SubscribeConfigurationRequest{StoreName: "cfg", Keys: []string{"a"}})
	if err != nil || res.GetId() == "" {
		t.Fatalf("subscribe = %v, %v", res, err)
	}
	set(t, m, "a", configuration.Item{Value: "1"})
	select {
	case u := <-f.got:
		if u.GetId() != res.GetId() || u.GetItems()["a"].GetValue() != "1" {
			t.Fatalf("update = %v", u)
		}
	default:
		t.Fatal("no update reached the updater")
	}
	if r, err := core.UnsubscribeConfiguration(ctx, &runtimev1.UnsubscribeConfigurationRequest{StoreName: "cfg", Id: res.GetId()}); err != nil || !r.GetOk() {
		t.Fatalf("unsubscribe = %v, %v", r, err)
	}
	set(t, m, "a", configuration.Item{Value: "2"})
	if len(f.got) != 0 {
		t.Fatal("update after unsubscribe")
	}
	if e := apierr.From(func() error {
		_, err := core.UnsubscribeConfiguration(ctx, &runtimev1.UnsubscribeConfigurationRequest{StoreName: "cfg", Id: res.GetId()})
		return err
	}()); e.HTTPStatus != http.StatusInternalServerError {
		t.Fatalf("second unsubscribe = %v", e)
	}
}
