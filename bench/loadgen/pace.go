package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// paceWorkers is how many requests may be in flight in an open-loop phase.
// At 1,000 req/s and sub-millisecond latency a handful are busy at once;
// the rest are headroom so a slow response never delays the next send.
const paceWorkers = 64

// paced is an open-loop phase: latencies plus how late each send was
// against its schedule, which shows whether the pacing held.
type paced struct {
	*phase
	lags []time.Duration // sorted
}

// pace sends rate requests per second for d, open loop: request i is due at
// start + i/rate whatever happened to earlier ones. Latency is measured from
// the actual send; lag (actual send - due) is reported separately.
func pace(ctx context.Context, rate int, d time.Duration, op opFunc) *paced {
	n := int(math.Round(float64(rate) * d.Seconds()))
	p := &paced{phase: &phase{}}
	jobs := make(chan time.Time, paceWorkers)
	lat := make([][]time.Duration, paceWorkers)
	lags := make([][]time.Duration, paceWorkers)
	var wg sync.WaitGroup
	for w := range paceWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for due := range jobs {
				t0 := time.Now()
				err := op(ctx, 0)
				lat[w] = append(lat[w], time.Since(t0))
				lags[w] = append(lags[w], t0.Sub(due))
				if err != nil {
					p.errs.add(err)
				}
			}
		}()
	}
	start := time.Now()
	dispatch(ctx, start, rate, n, jobs)
	close(jobs)
	wg.Wait()
	p.elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		p.errs.add(fmt.Errorf("phase interrupted: %w", err))
	}
	p.latencies = sortedConcat(lat)
	p.lags = sortedConcat(lags)
	return p
}

// dispatch hands n due times to the workers on schedule. A send that finds
// every worker busy waits, and that shows up as lag.
func dispatch(ctx context.Context, start time.Time, rate, n int, jobs chan<- time.Time) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := range n {
		due := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		select {
		case jobs <- due:
		case <-ctx.Done():
			return
		}
	}
}

// driveFor is the closed loop for a fixed time: conc workers each send the
// next request as soon as the previous one is answered.
func driveFor(ctx context.Context, d time.Duration, conc int, op opFunc) *phase {
	p := &phase{}
	lat := make([][]time.Duration, conc)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t0 := time.Now()
				err := op(ctx, 0)
				lat[w] = append(lat[w], time.Since(t0))
				if err != nil {
					p.errs.add(err)
				}
			}
		}()
	}
	wg.Wait()
	p.elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		p.errs.add(fmt.Errorf("phase interrupted: %w", err))
	}
	p.latencies = sortedConcat(lat)
	return p
}

func sortedConcat(parts [][]time.Duration) []time.Duration {
	all := slices.Concat(parts...)
	slices.Sort(all)
	return all
}

// rssSampler records the highest VmRSS of some processes, read every
// period, between start and stop: VmHWM alone cannot tell a phase's peak
// from one earlier in the process's life.
type rssSampler struct {
	pids []int
	peak []int64
	stop chan struct{}
	done chan struct{}
}

func sampleRSS(period time.Duration, pids ...int) *rssSampler {
	s := &rssSampler{pids: pids, peak: make([]int64, len(pids)),
		stop: make(chan struct{}), done: make(chan struct{})}
	s.sample()
	go func() {
		defer close(s.done)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *rssSampler) sample() {
	for i, pid := range s.pids {
		if pid == 0 { // no process on this path
			continue
		}
		// A process that is gone fails its own phase; nothing to add here.
		if m, err := procMem(pid); err == nil {
			s.peak[i] = max(s.peak[i], m.rss)
		}
	}
}

// finish stops sampling, takes one last reading and returns the peaks in
// the order of the pids.
func (s *rssSampler) finish() []int64 {
	close(s.stop)
	<-s.done
	s.sample()
	return s.peak
}
