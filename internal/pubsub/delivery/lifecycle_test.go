package delivery

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/appchannel"
	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/resources"
)

// blockingApp answers /slow once release is closed (or the request is
// cancelled); started counts the requests that arrived.
type blockingApp struct {
	*httpApp
	release chan struct{}
	started atomic.Int32
}

func newBlockingApp(t *testing.T) *blockingApp {
	a := &blockingApp{release: make(chan struct{})}
	a.httpApp = newHTTPApp(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if r.URL.Path != "/slow" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		a.started.Add(1)
		select {
		case <-a.release:
		case <-r.Context().Done():
		}
	})
	return a
}

// toggleHealth is a health checker whose probe answers from healthy.
func toggleHealth(t *testing.T, healthy *atomic.Bool) *appchannel.Health {
	t.Helper()
	probe := func(context.Context) error {
		if healthy.Load() {
			return nil
		}
		return errors.New("down")
	}
	h := appchannel.NewProbeHealthChecker(probe, appchannel.HealthConfig{Interval: 5 * time.Millisecond, Threshold: 1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return h
}

func TestHealthPauseAndResume(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	h := toggleHealth(t, &healthy)
	if err := h.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	app := newBlockingApp(t)
	b := newFakeBroker()
	startEngine(t, Config{
		PubSubs:     map[string]*pubsub.Component{"ps": newComp("ps", b, pubsub.Scopes{})},
		Channel:     app.channel(t),
		Health:      h,
		Declarative: []resources.Subscription{declared("s", "orders", "/slow")},
	})
	if !b.subscribed("orders") {
		t.Fatal("not subscribed while healthy")
	}

	inflight := make(chan error, 1)
	go func() { inflight <- b.deliver(t, "orders", &pubsub.Message{Data: cloudEvent(t, nil)}) }()
	waitFor(t, "the delivery to reach the app", func() bool { return app.started.Load() == 1 })

	healthy.Store(false)
	waitFor(t, "the subscription to pause", func() bool { return !b.subscribed("orders") })
	if err := b.deliver(t, "orders", &pubsub.Message{Data: cloudEvent(t, nil)}); err == nil {
		t.Fatal("a paused subscription accepted a message")
	}
	close(app.release)
	if err := <-inflight; err != nil {
		t.Fatalf("in-flight delivery: %v, want it to finish", err)
	}

	healthy.Store(true)
	waitFor(t, "the subscription to resume", func() bool { return b.subscribed("orders") })
	if n := b.subscribeCalls(); n != 2 {
		t.Fatalf("%d Subscribe calls, want 2", n)
	}
	if err := b.deliver(t, "orders", &pubsub.Message{Data: cloudEvent(t, nil)}); err != nil {
		t.Fatalf("delivery after resume: %v", err)
	}
}

func TestStartWhileUnhealthy(t *testing.T) {
	var healthy atomic.Bool
	h := toggleHealth(t, &healthy)
	app := newHTTPApp(t, answer(200, ""))
	b := newFakeBroker()
	startEngine(t, Config{
		PubSubs:     map[string]*pubsub.Component{"ps": newComp("ps", b, pubsub.Scopes{})},
		Channel:     app.channel(t),
		Health:      h,
		Declarative: []resources.Subscription{declared("s", "orders", "/orders")},
	})
	if b.sub("orders") != nil {
		t.Fatal("subscribed before the app was healthy")
	}
	healthy.Store(true)
	waitFor(t, "the subscription to start", func() bool { return b.subscribed("orders") })
}

func TestGracefulStop(t *testing.T) {
	app := newBlockingApp(t)
	b := newFakeBroker()
	e := startEngine(t, Config{
		PubSubs:     map[string]*pubsub.Component{"ps": newComp("ps", b, pubsub.Scopes{})},
		Channel:     app.channel(t),
		Declarative: []resources.Subscription{declared("s", "orders", "/slow")},
	})
	inflight := make(chan error, 1)
	go func() { inflight <- b.deliver(t, "orders", &pubsub.Message{Data: cloudEvent(t, nil)}) }()
	waitFor(t, "the delivery to reach the app", func() bool { return app.started.Load() == 1 })

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stopped <- e.Stop(ctx)
	}()
	waitFor(t, "the subscription to stop", func() bool { return !b.subscribed("orders") })
	if err := b.deliver(t, "orders", &pubsub.Message{Data: cloudEvent(t, nil)}); err == nil {
		t.Fatal("a stopping engine accepted a message")
	}
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) before the in-flight delivery finished", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(app.release)
	if err := <-inflight; err != nil {
		t.Fatalf("in-flight delivery: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

func TestStopDeadlineAbortsDeliveries(t *testing.T) {
	app := newBlockingApp(t)
	t.Cleanup(func() { close(app.release) })
	b := newFakeBroker()
	e := startEngine(t, Config{
		PubSubs:     map[string]*pubsub.Component{"ps": newComp("ps", b, pubsub.Scopes{})},
		Channel:     app.channel(t),
		Declarative: []resources.Subscription{{Metadata: resources.ObjectMeta{Name: "s"}, Spec: resources.SubscriptionSpec{PubsubName: "ps", Topic: "orders", Routes: resources.Routes{Default: "/slow"}, DeadLetterTopic: "dead"}}},
	})
	inflight := make(chan error, 1)
	go func() { inflight <- b.deliver(t, "orders", &pubsub.Message{Data: cloudEvent(t, nil)}) }()
	waitFor(t, "the delivery to reach the app", func() bool { return app.started.Load() == 1 })

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.Stop(ctx); err == nil {
		t.Fatal("Stop: want a deadline error")
	}
	if err := <-inflight; err == nil {
		t.Fatal("aborted delivery acknowledged")
	}
	if n := len(b.publishedTo("dead")); n != 0 {
		t.Fatalf("aborted delivery dead-lettered (%d)", n)
	}
}
