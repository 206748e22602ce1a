package gcpace

import (
	"context"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testutil"
)

func testPacer() *Pacer {
	return &Pacer{Default: 100, Headroom: 16 * MiB, MaxPercent: 1600,
		BusyRate: 4 * MiB, QuietRate: 1 * MiB, QuietWindows: 3}
}

func TestDecide(t *testing.T) {
	p := testPacer()
	tests := []struct {
		name      string
		current   int
		rate      float64
		live      uint64
		quiet     int
		want      int
		wantQuiet int
	}{
		{"quiet stays at the default", 100, 0.5 * MiB, 2 * MiB, 0, 100, 1},
		{"busy with a small live heap", 100, 10 * MiB, 2 * MiB, 0, 800, 0},
		{"busy with a tiny live heap is capped", 100, 10 * MiB, 64 << 10, 0, 1600, 0},
		{"busy before the first collection is capped", 100, 10 * MiB, 0, 0, 1600, 0},
		{"busy with a large live heap keeps the default", 100, 10 * MiB, 64 * MiB, 0, 100, 0},
		{"a small drift of the live heap changes nothing", 800, 10 * MiB, 2*MiB + 100<<10, 0, 800, 0},
		{"a large drift of the live heap follows", 800, 10 * MiB, 4 * MiB, 0, 400, 0},
		{"busy resets the quiet count", 800, 10 * MiB, 2 * MiB, 2, 800, 0},
		{"between the rates keeps the headroom", 800, 2 * MiB, 2 * MiB, 2, 800, 0},
		{"first quiet sample keeps the headroom", 800, 0.5 * MiB, 2 * MiB, 0, 800, 1},
		{"quiet long enough gives it back", 800, 0.5 * MiB, 2 * MiB, 2, 100, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			quiet := tc.quiet
			got := p.decide(tc.current, tc.rate, tc.live, &quiet)
			if got != tc.want || quiet != tc.wantQuiet {
				t.Fatalf("decide(%d, %.1f MiB/s, live %d) = %d (quiet %d), want %d (quiet %d)",
					tc.current, tc.rate/MiB, tc.live, got, quiet, tc.want, tc.wantQuiet)
			}
		})
	}
}

func TestBusyPercentNeverBelowDefault(t *testing.T) {
	p := testPacer()
	p.Default = 300
	if got := p.busyPercent(64 * MiB); got != 300 {
		t.Fatalf("busyPercent with GOGC=300 and a 64 MiB live heap = %d, want 300", got)
	}
}

// fakeHeap allocates at a settable rate, as seen by read.
type fakeHeap struct {
	mu    sync.Mutex
	alloc float64
	last  time.Time
	rate  float64
	live  uint64
}

func (h *fakeHeap) read() (uint64, uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	h.alloc += now.Sub(h.last).Seconds() * h.rate
	h.last = now
	return uint64(h.alloc), h.live
}

func (h *fakeHeap) setRate(rate float64) {
	h.read() // account the time so far at the old rate
	h.mu.Lock()
	h.rate = rate
	h.mu.Unlock()
}

func TestRunFollowsTheAllocationRate(t *testing.T) {
	heap := &fakeHeap{last: time.Now(), live: 4 * MiB}
	var current atomic.Int64
	current.Store(100)
	p := testPacer()
	p.Interval = time.Millisecond
	p.read, p.log = heap.read, slog.New(slog.DiscardHandler)
	p.set = func(n int) { current.Store(int64(n)) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx)
	}()

	heap.setRate(50 * MiB)
	waitFor(t, "headroom under fast allocation", func() bool { return current.Load() == 400 })
	heap.setRate(0)
	waitFor(t, "the default once quiet", func() bool { return current.Load() == 100 })
	heap.setRate(50 * MiB)
	waitFor(t, "headroom again", func() bool { return current.Load() == 400 })
	cancel()
	<-done
	if current.Load() != 100 {
		t.Fatalf("GOGC left at %d after Run returned, want 100 restored", current.Load())
	}
}

func TestRunLeavesCollectionOffAlone(t *testing.T) {
	p := testPacer()
	p.Default, p.Interval = -1, time.Millisecond
	p.read = (&fakeHeap{last: time.Now(), rate: 50 * MiB}).read
	p.set = func(n int) { t.Errorf("GOGC set to %d with collection off", n) }
	p.Run(context.Background()) // returns at once
}

// TestReadHeapSeesAllocations reads the real runtime: the cumulative
// allocation grows with garbage, and a collection finds a live heap.
func TestReadHeapSeesAllocations(t *testing.T) {
	before, _ := readHeap()
	for range 1000 {
		garbage = make([]byte, 1024)
	}
	runtime.GC()
	after, live := readHeap()
	if after-before < 1000*1024 || live == 0 {
		t.Fatalf("allocated %d bytes over 1000 KiB of garbage (live %d), want at least 1024000 and a live heap", after-before, live)
	}
	if got := currentPercent(); got != debugPercent() {
		t.Fatalf("currentPercent() = %d, want the runtime's %d", got, debugPercent())
	}
}

// garbage is package-level so the allocations above escape to the heap.
var garbage []byte

// debugPercent reads GOGC through runtime/debug, setting it back at once.
func debugPercent() int {
	old := debug.SetGCPercent(100)
	debug.SetGCPercent(old)
	return old
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, what, cond)
}
