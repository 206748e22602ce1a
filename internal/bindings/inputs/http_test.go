package inputs

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// bindingApp serves /a (any method), POST-only /custom/b (OPTIONS → 405),
// /fail (OPTIONS 200, POST 500), /probe-fails (OPTIONS 500) and nothing
// else (404).
func bindingApp(t *testing.T) *httpApp {
	return newHTTPApp(t, "apptoken", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/a":
			_, _ = w.Write([]byte("ack:a"))
		case r.URL.Path == "/custom/b" && r.Method == http.MethodPost:
			w.WriteHeader(http.StatusNoContent)
		case r.URL.Path == "/custom/b":
			w.WriteHeader(http.StatusMethodNotAllowed)
		case r.URL.Path == "/fail" && r.Method == http.MethodOptions:
		case r.URL.Path == "/probe-fails":
			w.WriteHeader(http.StatusInternalServerError)
		case r.URL.Path == "/fail":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("app broke"))
		default:
			http.NotFound(w, r)
		}
	})
}

func TestHTTPDiscoveryAndDelivery(t *testing.T) {
	app := bindingApp(t)
	a, b, c, d, f, p := &fakeInput{}, &fakeInput{}, &fakeInput{}, &fakeInput{}, &fakeInput{}, &fakeInput{}
	e := New(Config{Channel: app.ch, Logger: quiet, Bindings: []*Binding{
		{Name: "a", Input: a},
		{Name: "b", Route: "/custom/b", Input: b},
		{Name: "c", Input: c}, // the app has no route: not started
		{Name: "p", Route: "/probe-fails", Input: p},
		{Name: "d", Input: d, Explicit: true}, // direction: input: no probe
		{Name: "f", Route: "fail", Input: f},
	}})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer stopEngine(t, e)
	if got := e.Reading(); !slices.Equal(got, []string{"a", "b", "d", "f"}) {
		t.Fatalf("reading %v", got)
	}
	if c.readCount() != 0 || p.readCount() != 0 {
		t.Fatal("a binding the app did not want was read")
	}
	var probes []string
	for _, r := range app.requests() {
		if r.method == http.MethodOptions {
			probes = append(probes, r.path)
			if r.header.Get("Dapr-Api-Token") != "apptoken" {
				t.Errorf("probe %s without the app token", r.path)
			}
		}
	}
	slices.Sort(probes)
	if !slices.Equal(probes, []string{"/a", "/c", "/custom/b", "/fail", "/probe-fails"}) {
		t.Fatalf("probes %v", probes)
	}

	answer, err := a.fire(`{"x":1}`, map[string]string{"timeZone": "UTC", "bad\nkey": "dropped"})
	if err != nil || string(answer) != "ack:a" {
		t.Fatalf("deliver a = %q, %v", answer, err)
	}
	reqs := app.requests()
	got := reqs[len(reqs)-1]
	if got.method != http.MethodPost || got.path != "/a" || got.body != `{"x":1}` ||
		got.header.Get("Content-Type") != "application/json" || got.header.Get("Timezone") != "UTC" || got.header.Get("Dapr-Api-Token") != "apptoken" {
		t.Fatalf("delivery %+v", got)
	}
	if _, err := b.fire("raw bytes", nil); err != nil {
		t.Fatalf("deliver b: %v", err)
	}
	if _, err := f.fire("x", nil); err == nil || !strings.Contains(err.Error(), "status code: 500 body: app broke") {
		t.Fatalf("deliver to a failing route: %v", err)
	}
}

func TestHTTPAppUnreachable(t *testing.T) {
	app := bindingApp(t)
	app.srv.Close()
	a := &fakeInput{}
	e := New(Config{Channel: app.ch, Logger: quiet, OptionsTimeout: 500 * time.Millisecond, Bindings: []*Binding{{Name: "a", Input: a}}})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer stopEngine(t, e)
	if a.readCount() != 0 || len(e.Reading()) != 0 {
		t.Fatal("a binding started although the probe failed")
	}
}

func TestPauseWhileUnhealthy(t *testing.T) {
	app := bindingApp(t)
	var healthy atomic.Bool
	health := toggleHealth(t, &healthy)
	a := &fakeInput{}
	e := New(Config{Channel: app.ch, Health: health, Logger: quiet, Bindings: []*Binding{{Name: "a", Input: a}}})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer stopEngine(t, e)
	if a.readCount() != 0 {
		t.Fatal("read before the app was healthy")
	}
	healthy.Store(true)
	eventually(t, "reading once healthy", a.reading)
	if _, err := a.fire("1", nil); err != nil {
		t.Fatal(err)
	}
	healthy.Store(false)
	eventually(t, "paused when unhealthy", func() bool { return !a.reading() })
	if len(e.Reading()) != 0 {
		t.Fatalf("reading %v while unhealthy", e.Reading())
	}
	if _, err := a.fire("2", nil); err != ErrNotDelivering {
		t.Fatalf("delivery while unhealthy: %v", err)
	}
	healthy.Store(true)
	eventually(t, "resumed", func() bool { return a.readCount() == 2 && a.reading() })
	if _, err := a.fire("3", nil); err != nil {
		t.Fatal(err)
	}
}

// TestStopWaitsForDeliveries: Stop lets a running delivery finish, and
// aborts it when its own deadline passes first.
func TestStopWaitsForDeliveries(t *testing.T) {
	release := make(chan struct{})
	var started atomic.Int32
	app := newHTTPApp(t, "", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			return
		}
		started.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	run := func(abort bool) error {
		a := &fakeInput{}
		e := New(Config{Channel: app.ch, Logger: quiet, Bindings: []*Binding{{Name: "slow", Input: a}}})
		if err := e.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		before := started.Load()
		done := make(chan error, 1)
		go func() {
			_, err := a.fire("x", nil)
			done <- err
		}()
		eventually(t, "delivery started", func() bool { return started.Load() > before })
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if !abort {
			time.AfterFunc(20*time.Millisecond, func() { release <- struct{}{} })
		}
		stopErr := e.Stop(ctx)
		if a.reading() {
			t.Error("still reading after Stop")
		}
		if _, err := a.fire("late", nil); err != ErrNotDelivering {
			t.Errorf("delivery after Stop: %v", err)
		}
		deliveryErr := <-done
		if abort != (deliveryErr != nil) {
			t.Errorf("abort=%v: delivery error %v", abort, deliveryErr)
		}
		return stopErr
	}
	if err := run(false); err != nil {
		t.Fatalf("graceful Stop: %v", err)
	}
	if err := run(true); err == nil {
		t.Fatal("Stop past its deadline reported no error")
	}
}

func TestNoAppOrNoBindings(t *testing.T) {
	a := &fakeInput{}
	e := New(Config{Logger: quiet, Bindings: []*Binding{{Name: "a", Input: a, Explicit: true}}})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a.readCount() != 0 {
		t.Fatal("read without an app channel")
	}
	if err := e.Start(context.Background()); err == nil {
		t.Fatal("second Start succeeded")
	}
	stopEngine(t, e)
}
