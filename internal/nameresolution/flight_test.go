package nameresolution

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestFlightSharesOneRun(t *testing.T) {
	var f Flight
	var wg sync.WaitGroup
	var runs atomic.Int32
	release := make(chan struct{})
	fn := func(func([]string)) ([]string, error) {
		runs.Add(1)
		<-release
		return []string{"a:1"}, nil
	}
	calls := make([]*Call, 10)
	for i := range calls {
		calls[i] = f.Join(&wg, "k", fn)
	}
	close(release)
	for i, c := range calls {
		got, err := c.Wait(context.Background())
		if err != nil || len(got) != 1 || got[0] != "a:1" {
			t.Fatalf("call %d = %v, %v", i, got, err)
		}
	}
	wg.Wait()
	if n := runs.Load(); n != 1 {
		t.Fatalf("fn ran %d times, want 1", n)
	}
	// A finished run is forgotten: the next Join starts a new one.
	boom := errors.New("boom")
	_, err := f.Join(&wg, "k", func(func([]string)) ([]string, error) { return nil, boom }).Wait(context.Background())
	if !errors.Is(err, boom) {
		t.Fatalf("second run error = %v, want boom", err)
	}
	wg.Wait()
}

func TestCallWaitHonoursContext(t *testing.T) {
	var f Flight
	var wg sync.WaitGroup
	release := make(chan struct{})
	c := f.Join(&wg, "k", func(func([]string)) ([]string, error) { <-release; return nil, nil })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait error = %v, want deadline exceeded", err)
	}
	close(release)
	wg.Wait()
}

func TestCallEarlyResult(t *testing.T) {
	var f Flight
	var wg sync.WaitGroup
	release := make(chan struct{})
	c := f.Join(&wg, "k", func(publish func([]string)) ([]string, error) {
		publish([]string{"first:1"})
		<-release
		return []string{"first:1", "second:2"}, nil
	})
	// The early result arrives while the run is still going.
	got, err := c.Wait(context.Background())
	if err != nil || len(got) != 1 || got[0] != "first:1" {
		t.Fatalf("early Wait = %v, %v", got, err)
	}
	// Until it ends, a new Join shares the same run.
	if again := f.Join(&wg, "k", nil); again != c {
		t.Fatal("Join during a run started another")
	}
	close(release)
	wg.Wait()
	if got, _ := c.Wait(context.Background()); len(got) != 2 {
		t.Fatalf("final Wait = %v", got)
	}
}
