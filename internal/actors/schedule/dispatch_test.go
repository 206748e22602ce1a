package schedule

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testutil"
)

const waitLimit = 10 * time.Second

// gauge tracks how many jobs run at once and the most seen.
type gauge struct {
	mu       sync.Mutex
	now, top int
}

func (g *gauge) enter() {
	g.mu.Lock()
	g.now++
	g.top = max(g.top, g.now)
	g.mu.Unlock()
}

func (g *gauge) leave() {
	g.mu.Lock()
	g.now--
	g.mu.Unlock()
}

func (g *gauge) max() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.top
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, waitLimit, what, cond)
}

// dispatch hands job over the way the timer and reminder loops do: try,
// and while every worker is busy wait for one to run out of work.
func dispatch[J any](t *testing.T, d *Dispatcher[J], job J) {
	t.Helper()
	end := time.After(waitLimit)
	for !d.TryDispatch(job) {
		select {
		case <-d.Freed():
		case <-end:
			t.Errorf("no worker took a job within %v", waitLimit)
			return
		}
	}
}

// TestDispatcherRunsEveryJob dispatches from one or several goroutines and
// checks every job runs exactly once, never more than the limit at a time,
// with the limit reached when jobs hold their worker.
func TestDispatcherRunsEveryJob(t *testing.T) {
	tests := []struct {
		name        string
		limit       int
		jobs        int
		dispatchers int
		hold        bool // jobs wait until wantTop run at once, then all return
		wantTop     int
	}{
		{name: "one worker runs jobs in turn", limit: 1, jobs: 20, dispatchers: 1},
		{name: "limit zero means one", limit: 0, jobs: 5, dispatchers: 1, hold: true, wantTop: 1},
		{name: "short jobs", limit: 4, jobs: 500, dispatchers: 1},
		{name: "held jobs fill the limit", limit: 4, jobs: 40, dispatchers: 1, hold: true, wantTop: 4},
		{name: "concurrent dispatchers", limit: 3, jobs: 300, dispatchers: 4},
		{name: "concurrent dispatchers, held jobs", limit: 8, jobs: 64, dispatchers: 4, hold: true, wantTop: 8},
		{name: "fewer jobs than the limit", limit: 16, jobs: 5, dispatchers: 1, hold: true, wantTop: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var g gauge
			runs := make([]atomic.Int32, tt.jobs)
			release := make(chan struct{})
			var releaseOnce sync.Once
			d := NewDispatcher(tt.limit, 0, func(i int) (int, bool) {
				g.enter()
				defer g.leave()
				runs[i].Add(1)
				if tt.hold {
					if g.max() >= tt.wantTop {
						releaseOnce.Do(func() { close(release) })
					}
					<-release
				}
				return 0, false
			})
			var wg sync.WaitGroup
			for w := range tt.dispatchers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < tt.jobs; i += tt.dispatchers {
						dispatch(t, d, i)
					}
				}()
			}
			wg.Wait()
			d.Close()
			for i := range runs {
				if n := runs[i].Load(); n != 1 {
					t.Errorf("job %d ran %d times, want 1", i, n)
				}
			}
			limit := max(tt.limit, 1)
			if top := g.max(); top > limit || (tt.hold && top != tt.wantTop) {
				t.Errorf("at most %d jobs ran at once, want ≤ %d (exactly %d when held)", top, limit, tt.wantTop)
			}
			if w := d.Workers(); w != 0 {
				t.Errorf("%d workers left after Close", w)
			}
		})
	}
}

// TestDispatcherChainsJobs checks a job's follow-ups run on the same
// worker, in order, before it takes the next dispatched job.
func TestDispatcherChainsJobs(t *testing.T) {
	type link struct{ chain, step, length int }
	tests := []struct {
		name    string
		lengths []int // one dispatched chain per entry
	}{
		{name: "no follow-up", lengths: []int{1}},
		{name: "one chain", lengths: []int{5}},
		{name: "chains one after the other", lengths: []int{3, 1, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var got []link
			d := NewDispatcher(1, 0, func(l link) (link, bool) {
				mu.Lock()
				got = append(got, l)
				mu.Unlock()
				next := link{l.chain, l.step + 1, l.length}
				return next, next.step < next.length
			})
			var want []link
			for c, n := range tt.lengths {
				dispatch(t, d, link{c, 0, n})
				for step := range n {
					want = append(want, link{c, step, n})
				}
			}
			d.Close()
			if !slices.Equal(got, want) {
				t.Fatalf("ran %v, want %v", got, want)
			}
		})
	}
}

// TestDispatcherRefusesWhenBusyOrClosed checks TryDispatch never waits:
// it refuses while every worker is busy, Freed tells when one is done,
// Close waits for running jobs, and nothing is accepted after it.
func TestDispatcherRefusesWhenBusyOrClosed(t *testing.T) {
	tests := []struct {
		name  string
		limit int
	}{
		{name: "one worker", limit: 1},
		{name: "three workers", limit: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			var started, finished atomic.Int32
			d := NewDispatcher(tt.limit, 0, func(job string) (string, bool) {
				started.Add(1)
				if job == "busy" {
					<-release
				}
				finished.Add(1)
				return "", false
			})
			for range tt.limit {
				if !d.TryDispatch("busy") {
					t.Fatal("TryDispatch with a free slot = false")
				}
			}
			if d.TryDispatch("refused") {
				t.Fatal("TryDispatch with every worker busy = true")
			}
			select {
			case <-d.Freed():
				t.Fatal("Freed fired while every worker was busy")
			default:
			}
			close(release)
			select {
			case <-d.Freed():
			case <-time.After(waitLimit):
				t.Fatal("Freed did not fire after the jobs returned")
			}
			dispatch(t, d, "after")
			d.Close()
			if n, want := finished.Load(), int32(tt.limit+1); n != want || started.Load() != want {
				t.Errorf("%d jobs started and %d finished by Close, want %d (the refused one never runs)", started.Load(), n, want)
			}
			if d.TryDispatch("late") {
				t.Error("TryDispatch after Close = true")
			}
		})
	}
}

// TestDispatcherIdleWorkersExit checks workers leave after the idle time
// and a later job starts a new one.
func TestDispatcherIdleWorkersExit(t *testing.T) {
	var runs atomic.Int32
	d := NewDispatcher(2, 20*time.Millisecond, func(int) (int, bool) {
		runs.Add(1)
		return 0, false
	})
	defer d.Close()
	for i := range 10 {
		dispatch(t, d, i)
	}
	if w := d.Workers(); w < 1 || w > 2 {
		t.Errorf("Workers() = %d right after dispatching, want 1 or 2", w)
	}
	waitFor(t, "idle workers to exit", func() bool { return d.Workers() == 0 })
	dispatch(t, d, 10)
	waitFor(t, "the job dispatched after the workers left", func() bool { return runs.Load() == 11 })
}

// fakeSource is an owner's queue for Run: jobs due at given times, taken
// in due order.
type fakeSource struct {
	mu      sync.Mutex
	q       Queue[int]
	putBack int
	wake    chan struct{}
}

func newFakeSource(due []time.Time) *fakeSource {
	s := &fakeSource{wake: make(chan struct{}, 1)}
	for i, d := range due {
		it := NewItem(i)
		it.Due = d
		s.q.Push(it)
	}
	return s
}

func (s *fakeSource) next() (int, time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextLocked()
}

func (s *fakeSource) nextLocked() (int, time.Duration, bool) {
	now := time.Now()
	if it := s.q.PopDue(now); it != nil {
		return it.Value, 0, true
	}
	if it := s.q.Peek(); it != nil {
		return 0, it.Due.Sub(now), false
	}
	return 0, time.Hour, false
}

func (s *fakeSource) back(job int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putBack++
	it := NewItem(job)
	it.Due = time.Time{} // due at once, ahead of the rest
	s.q.Push(it)
}

// TestDispatcherRun drives Run over a queue of due jobs and checks each
// runs once, in due order with one worker, never above the limit, and that
// Run returns with no job running once its context ends.
func TestDispatcherRun(t *testing.T) {
	tests := []struct {
		name   string
		limit  int
		jobs   int
		spread time.Duration // due times spread over this
		hold   time.Duration // each job's run time
	}{
		{name: "one worker, all due", limit: 1, jobs: 20},
		{name: "one worker, spread", limit: 1, jobs: 20, spread: 30 * time.Millisecond},
		{name: "busy workers", limit: 3, jobs: 60, hold: time.Millisecond},
		{name: "busy workers, spread", limit: 4, jobs: 60, spread: 20 * time.Millisecond, hold: time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			due := make([]time.Time, tt.jobs)
			for i := range due {
				// Distinct due times (equal ones pop in any order), the
				// first ones already past.
				due[i] = start.Add(tt.spread*time.Duration(i)/time.Duration(tt.jobs) - time.Duration(tt.jobs-i)*time.Microsecond)
			}
			src := newFakeSource(due)
			var g gauge
			var mu sync.Mutex
			var order []int
			d := NewDispatcher(tt.limit, 0, func(job int) (int, bool) {
				g.enter()
				mu.Lock()
				order = append(order, job)
				mu.Unlock()
				time.Sleep(tt.hold)
				g.leave()
				src.mu.Lock()
				defer src.mu.Unlock()
				next, _, ok := src.nextLocked()
				return next, ok
			})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				d.Run(ctx, src.next, src.back, src.wake)
			}()
			waitFor(t, "every job to run", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(order) == tt.jobs
			})
			cancel()
			<-done
			if w := d.Workers(); w != 0 {
				t.Errorf("%d workers left after Run returned", w)
			}
			seen := map[int]int{}
			for _, j := range order {
				seen[j]++
			}
			for i := range tt.jobs {
				if seen[i] != 1 {
					t.Errorf("job %d ran %d times, want 1", i, seen[i])
				}
			}
			if top := g.max(); top > tt.limit {
				t.Errorf("%d jobs ran at once, limit %d", top, tt.limit)
			}
			if tt.limit == 1 && !slices.IsSorted(order) {
				t.Errorf("one worker ran %v, want due order", order)
			}
		})
	}
}
