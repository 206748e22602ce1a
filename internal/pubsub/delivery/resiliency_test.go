package delivery

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/resources"
)

// An inbound pub/sub policy retries deliveries the app failed, filtered by
// the policy's matching codes: 503 is listed, 500 is not.
func TestInboundResiliencyPolicy(t *testing.T) {
	maxRetries := 3
	p, err := resiliency.New([]resources.Resiliency{{
		Metadata: resources.ObjectMeta{Name: "r"},
		Spec: resources.ResiliencySpec{
			Policies: resources.Policies{Retries: map[string]resources.RetryPolicy{"r": {
				Duration: "1ms", MaxRetries: &maxRetries, Matching: &resources.RetryMatching{HTTPStatusCodes: "503"},
			}}},
			Targets: resources.Targets{Components: map[string]resources.ComponentPolicyNames{"ps": {Inbound: resources.PolicyNames{Retry: "r"}}}},
		},
	}}, resiliency.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := &httpFixture{broker: newFakeBroker()}
	var calls503, calls500 atomic.Int32
	f.app = newHTTPApp(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		switch r.URL.Path {
		case "/flaky":
			if calls503.Add(1) < 3 {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		case "/broken":
			calls500.Add(1)
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	startEngine(t, Config{
		PubSubs: map[string]*pubsub.Component{"ps": newComp("ps", f.broker, pubsub.Scopes{})},
		Channel: f.app.channel(t),
		Retry: func(ctx context.Context, name string, op func(context.Context) error) error {
			return p.ComponentInbound(name, resiliency.Pubsub).Run(ctx, op)
		},
		Declarative: []resources.Subscription{declared("s1", "flaky", "/flaky"), declared("s2", "broken", "/broken")},
	})
	if err := f.broker.deliver(t, "flaky", &pubsub.Message{Data: cloudEvent(t, nil)}); err != nil {
		t.Fatalf("flaky delivery: %v", err)
	}
	if n := calls503.Load(); n != 3 {
		t.Errorf("flaky: %d attempts, want 3", n)
	}
	if err := f.broker.deliver(t, "broken", &pubsub.Message{Data: cloudEvent(t, nil)}); err == nil {
		t.Error("broken: delivery succeeded")
	}
	if n := calls500.Load(); n != 1 {
		t.Errorf("broken: %d attempts, want 1 (500 is not in matching)", n)
	}
}
