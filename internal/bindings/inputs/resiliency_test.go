package inputs

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/resources"
)

// An inbound binding policy retries events the app failed, filtered by
// its matching codes: 503 is listed, 400 is not.
func TestInboundResiliencyPolicy(t *testing.T) {
	retries := 3
	p, err := resiliency.New([]resources.Resiliency{{
		Metadata: resources.ObjectMeta{Name: "r"},
		Spec: resources.ResiliencySpec{Policies: resources.Policies{Retries: map[string]resources.RetryPolicy{
			"DefaultBindingComponentInboundRetryPolicy": {Duration: "1ms", MaxRetries: &retries, Matching: &resources.RetryMatching{HTTPStatusCodes: "503"}},
		}}},
	}}, resiliency.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	var flaky, bad atomic.Int32
	app := newHTTPApp(t, "", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodOptions:
		case r.URL.Path == "/flaky":
			if flaky.Add(1) < 3 {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		case r.URL.Path == "/bad":
			bad.Add(1)
			w.WriteHeader(http.StatusBadRequest)
		}
	})
	fl, bd := &fakeInput{}, &fakeInput{}
	e := New(Config{Channel: app.ch, Logger: quiet,
		Bindings: []*Binding{{Name: "flaky", Input: fl, Explicit: true}, {Name: "bad", Input: bd, Explicit: true}},
		Retry: func(ctx context.Context, name string, op func(context.Context) error) error {
			return p.ComponentInbound(name, resiliency.Binding).Run(ctx, op)
		},
	})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer stopEngine(t, e)
	if _, err := fl.fire("x", nil); err != nil {
		t.Fatalf("flaky: %v", err)
	}
	if n := flaky.Load(); n != 3 {
		t.Errorf("flaky: %d deliveries, want 3", n)
	}
	if _, err := bd.fire("x", nil); err == nil {
		t.Error("bad: delivery succeeded")
	}
	if n := bad.Load(); n != 1 {
		t.Errorf("bad: %d deliveries, want 1 (400 is not in matching)", n)
	}
}
