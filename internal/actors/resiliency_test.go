package actors

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"

	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/resources"
)

// actorPolicies gives actor type "counter" a 3-retry policy and a 50ms
// timeout.
func actorPolicies(t *testing.T) *resiliency.Provider {
	t.Helper()
	retries := 3
	p, err := resiliency.New([]resources.Resiliency{{
		Metadata: resources.ObjectMeta{Name: "r"},
		Spec: resources.ResiliencySpec{
			Policies: resources.Policies{
				Retries:  map[string]resources.RetryPolicy{"three": {Duration: "1ms", MaxRetries: &retries}},
				Timeouts: map[string]resources.Duration{"short": "50ms"},
			},
			Targets: resources.Targets{Actors: map[string]resources.ActorPolicyNames{
				"counter": {Retry: "three", Timeout: "short"},
			}},
		},
	}}, resiliency.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestActorRetryPolicy(t *testing.T) {
	var calls atomic.Int32
	app := &fakeApp{invoke: func(_ context.Context, req *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error) {
		if calls.Add(1) < 3 {
			return nil, errors.New("app not ready")
		}
		return okResponse([]byte("ok")), nil
	}}
	h := newHarness(t, app, func(c *Config) { c.Resiliency = actorPolicies(t) })
	if _, err := h.rt.Invoke(context.Background(), actorCall("counter", "r1", "m", nil)); err != nil {
		t.Fatalf("call under a retry policy: %v", err)
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("app called %d times, want 3 (two failures, then success)", n)
	}
}

func TestActorTimeoutPolicy(t *testing.T) {
	app := &fakeApp{invoke: func(ctx context.Context, _ *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	h := newHarness(t, app, func(c *Config) { c.Resiliency = actorPolicies(t) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := h.rt.Invoke(ctx, actorCall("counter", "t1", "m", nil))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow app under a 50ms timeout: %v, want deadline exceeded", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the caller's own deadline ran out: the policy's timeout did not apply")
	}
}
