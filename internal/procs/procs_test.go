package procs

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testutil"
)

func TestDecide(t *testing.T) {
	g := &Governor{Max: 4, Low: 0.4, High: 0.6, LowWindows: 3}
	tests := []struct {
		name      string
		current   int
		cores     float64
		quiet     int
		want      int
		wantQuiet int
	}{
		{"busy stays at max", 4, 0.9, 0, 4, 0},
		{"first quiet sample", 4, 0.1, 0, 4, 1},
		{"quiet long enough", 4, 0.1, 2, 1, 3},
		{"between the marks resets the count", 4, 0.5, 2, 4, 0},
		{"between the marks keeps one", 1, 0.5, 3, 1, 0},
		{"load returns", 1, 0.7, 5, 4, 0},
		{"still quiet on one", 1, 0.2, 3, 1, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			quiet := tc.quiet
			if got := g.decide(tc.current, tc.cores, &quiet); got != tc.want || quiet != tc.wantQuiet {
				t.Fatalf("decide(%d, %.1f, %d) = %d (quiet %d), want %d (quiet %d)",
					tc.current, tc.cores, tc.quiet, got, quiet, tc.want, tc.wantQuiet)
			}
		})
	}
}

// fakeProcess burns a settable number of cores, as seen by cpuTime.
type fakeProcess struct {
	mu    sync.Mutex
	cpu   time.Duration
	last  time.Time
	cores float64
}

func (p *fakeProcess) cpuTime() (time.Duration, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	p.cpu += time.Duration(float64(now.Sub(p.last)) * p.cores)
	p.last = now
	return p.cpu, nil
}

func (p *fakeProcess) setLoad(cores float64) {
	p.cpuTime() // account the time so far at the old load
	p.mu.Lock()
	p.cores = cores
	p.mu.Unlock()
}

func TestRunFollowsTheLoad(t *testing.T) {
	proc := &fakeProcess{last: time.Now(), cores: 0.9}
	var current atomic.Int64
	current.Store(4)
	sets := make(chan int, 100)
	g := &Governor{Max: 4, Interval: time.Millisecond, Low: 0.4, High: 0.6, LowWindows: 3,
		cpuTime: proc.cpuTime, log: slog.New(slog.DiscardHandler),
		set: func(n int) { current.Store(int64(n)); sets <- n }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.Run(ctx)
	}()

	proc.setLoad(0.1)
	waitFor(t, "one processor when nearly idle", func() bool { return current.Load() == 1 })
	proc.setLoad(0.9)
	waitFor(t, "every processor back under load", func() bool { return current.Load() == 4 })
	proc.setLoad(0.1)
	waitFor(t, "one processor again", func() bool { return current.Load() == 1 })
	cancel()
	<-done
	if current.Load() != 4 {
		t.Fatalf("GOMAXPROCS left at %d after Run returned, want 4 restored", current.Load())
	}
}

func TestRunLeavesASingleProcessorAlone(t *testing.T) {
	g := &Governor{Max: 1, Interval: time.Millisecond, cpuTime: (&fakeProcess{last: time.Now()}).cpuTime,
		set: func(n int) { t.Errorf("GOMAXPROCS set to %d with Max 1", n) }, log: slog.New(slog.DiscardHandler)}
	g.Run(context.Background()) // returns at once
}

func TestProcessCPUTime(t *testing.T) {
	before, err := processCPUTime()
	if err != nil {
		t.Skipf("no process CPU time on this platform: %v", err)
	}
	x := 0.0
	for i := range 20_000_000 {
		x += math.Sqrt(float64(i))
	}
	after, err := processCPUTime()
	if err != nil || after <= before || x == 0 {
		t.Fatalf("CPU time went from %v to %v (%v) across a busy loop", before, after, err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, what, cond)
}
