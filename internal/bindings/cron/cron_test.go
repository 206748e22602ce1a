package cron

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/bindings"
)

func newBinding(t *testing.T, schedule string) *Binding {
	t.Helper()
	b := New()
	if err := b.Init(context.Background(), bindings.Metadata{Name: "tick", Properties: map[string]string{"Schedule": schedule}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestSchedules(t *testing.T) {
	valid := []string{"@every 1s", "*/15 * * * * *", "0 30 * * * *", "0 * * * *", "CRON_TZ=Europe/Paris 0 0 9 * * MON-FRI", "@hourly", "@daily", "@midnight"}
	for _, s := range valid {
		if err := New().Init(context.Background(), bindings.Metadata{Properties: map[string]string{"schedule": s}}); err != nil {
			t.Errorf("schedule %q: %v", s, err)
		}
	}
	invalid := []string{"", "every second", "* * * *", "61 * * * * *", "CRON_TZ=Nowhere/Land * * * * *", "@every soon"}
	for _, s := range invalid {
		if err := New().Init(context.Background(), bindings.Metadata{Properties: map[string]string{"schedule": s}}); err == nil {
			t.Errorf("schedule %q accepted", s)
		}
	}
}

// TestFires: @every 1s delivers events with the metadata Dapr sets, until
// the read context ends; a new Read resumes.
func TestFires(t *testing.T) {
	b := newBinding(t, "@every 1s")
	events := make(chan *bindings.Event, 10)
	handler := func(_ context.Context, ev *bindings.Event) ([]byte, error) {
		events <- ev
		return nil, errors.New("a failing app does not stop the schedule")
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := b.Read(ctx, handler); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		select {
		case ev := <-events:
			if len(ev.Data) != 0 || ev.Metadata["timeZone"] != time.Local.String() {
				t.Fatalf("event %+v", ev)
			}
			read, err := time.Parse("2006-01-02 15:04:05.999999999 -0700 MST", ev.Metadata["readTimeUTC"])
			if err != nil || time.Since(read) > 5*time.Second {
				t.Fatalf("readTimeUTC %q: %v", ev.Metadata["readTimeUTC"], err)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("event %d did not arrive", i)
		}
	}
	cancel()
	b.wg.Wait() // the schedule has stopped
	drain(events)
	select {
	case <-events:
		t.Fatal("event after the read context ended")
	case <-time.After(1200 * time.Millisecond):
	}

	var n atomic.Int32
	if err := b.Read(context.Background(), func(context.Context, *bindings.Event) ([]byte, error) { n.Add(1); return nil, nil }); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for n.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n.Load() == 0 {
		t.Fatal("no event after resuming")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Read(context.Background(), handler); err == nil {
		t.Fatal("Read after Close succeeded")
	}
}

func drain(ch chan *bindings.Event) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}
