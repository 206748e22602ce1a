package schedule

import (
	"context"
	"sync"
	"time"
)

// DefaultWorkerIdle is how long a Dispatcher's worker waits for another job
// before it exits (between one and two such periods).
const DefaultWorkerIdle = 10 * time.Second

// minSleep is the shortest sleep of Run: due times closer together than
// this are taken in one wake-up, up to a millisecond late, rather than
// waking the loop (and a worker) once per firing.
const minSleep = time.Millisecond

// Dispatcher runs jobs (the due firings of timers or reminders) on at most
// a fixed number of worker goroutines at once.
//
// Workers outlive their job: the next due firing goes to a worker that is
// waiting for one, so a firing neither starts a goroutine nor grows a fresh
// stack through the app call, which profiles of the reminder load showed as
// a tenth of the sidecar's CPU per firing. A worker left without work for
// the idle time exits, so a burst does not pin its goroutines.
//
// A job records its own outcome (under its owner's lock) and hands its
// worker the next due job, if any, taken from the owner's queue in the same
// critical section. So under load a worker goes from one firing to the next
// without a handoff, and the owner's loop only starts work when a worker is
// free: TryDispatch never blocks, and a loop that finds every worker busy
// leaves the due job in its queue (the first worker done takes it, in
// due-time order, so none is starved) and waits on Freed.
type Dispatcher[J any] struct {
	run         RunFunc[J]
	limit       int
	idleTimeout time.Duration

	// jobs is unbuffered; a send is made only to a worker counted in idle.
	jobs  chan J
	freed chan struct{} // buffered 1: a worker ran out of jobs
	quit  chan struct{}
	wg    sync.WaitGroup

	mu      sync.Mutex
	workers int
	idle    int // workers waiting for a job that none has been promised to
	closed  bool
}

// RunFunc runs one job and returns the next one for the same worker, if
// any (more=false: the worker waits for TryDispatch).
type RunFunc[J any] func(job J) (next J, more bool)

// NewDispatcher returns a dispatcher that runs run on at most limit
// workers (at least one); a worker exits after one to two idle periods
// without a job (zero is DefaultWorkerIdle).
func NewDispatcher[J any](limit int, idle time.Duration, run RunFunc[J]) *Dispatcher[J] {
	if idle <= 0 {
		idle = DefaultWorkerIdle
	}
	return &Dispatcher[J]{
		run:         run,
		limit:       max(limit, 1),
		idleTimeout: idle,
		jobs:        make(chan J),
		freed:       make(chan struct{}, 1),
		quit:        make(chan struct{}),
	}
}

// TryDispatch hands job to a waiting worker, or to a new one when fewer
// than the limit run. It reports false, without running job, when every
// worker is busy or the dispatcher is closed.
func (d *Dispatcher[J]) TryDispatch(job J) bool {
	d.mu.Lock()
	switch {
	case d.closed:
		d.mu.Unlock()
		return false
	case d.idle > 0:
		// A worker counted in idle is at, or on its way to, the receive.
		d.idle--
		d.mu.Unlock()
		select {
		case d.jobs <- job:
			return true
		case <-d.quit:
			return false
		}
	case d.workers < d.limit:
		d.workers++
		d.wg.Add(1)
		d.mu.Unlock()
		go d.work(job)
		return true
	}
	d.mu.Unlock()
	return false
}

// Freed receives (at least once) after a worker ran out of jobs since the
// last receive: a loop that found every worker busy waits on it before
// trying again.
func (d *Dispatcher[J]) Freed() <-chan struct{} { return d.freed }

// Run is the owner's scheduling loop, until ctx ends; then it closes the
// dispatcher, waiting for running jobs. next takes the owner's earliest job
// if it is due, or says how long until one is; putBack returns a job taken
// by next that no worker could take (every one was busy), to be taken
// again in due-time order, by the first worker done or by the loop once
// Freed fires; wake interrupts a sleep when an earlier job was queued.
func (d *Dispatcher[J]) Run(ctx context.Context, next func() (job J, wait time.Duration, ok bool), putBack func(J), wake <-chan struct{}) {
	defer d.Close()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		job, wait, ok := next()
		if ok {
			if d.TryDispatch(job) {
				continue
			}
			putBack(job)
			select {
			case <-ctx.Done():
				return
			case <-d.freed:
			}
			continue
		}
		timer.Reset(max(wait, minSleep))
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-timer.C:
		}
	}
}

// work runs job and those it leads to, then waits for the next one, until
// it has gone a whole idle period without a job or the dispatcher closes.
// The idle timer is re-armed once per period rather than per job:
// resetting it per job cost a twentieth of a short firing.
func (d *Dispatcher[J]) work(job J) {
	defer d.wg.Done()
	idle := time.NewTimer(d.idleTimeout)
	defer idle.Stop()
	for {
		for more := true; more; {
			job, more = d.run(job)
		}
		d.mu.Lock()
		d.idle++
		d.mu.Unlock()
		select {
		case d.freed <- struct{}{}:
		default:
		}
		var ok bool
		if job, ok = d.await(idle); !ok {
			return
		}
	}
}

// await waits for a job for an idle worker. It reports false when the
// worker should exit: the dispatcher closed, or no job came for a whole
// idle period and none has been promised to this worker.
func (d *Dispatcher[J]) await(idle *time.Timer) (J, bool) {
	var none J
	worked := true // a job ran since the timer was last armed
	for {
		select {
		case job := <-d.jobs:
			return job, true
		case <-d.quit:
			d.mu.Lock()
			d.workers--
			d.idle = max(d.idle-1, 0)
			d.mu.Unlock()
			return none, false
		case <-idle.C:
		}
		idle.Reset(d.idleTimeout)
		if worked {
			worked = false
			continue
		}
		d.mu.Lock()
		if d.idle > 0 {
			// Some waiting worker is not promised a job: count one out.
			d.idle--
			d.workers--
			d.mu.Unlock()
			return none, false
		}
		// Every waiting worker, this one included, has a job on its way.
		d.mu.Unlock()
	}
}

// Workers returns how many workers are running (busy or waiting for a job).
func (d *Dispatcher[J]) Workers() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.workers
}

// Close stops the waiting workers and waits for running jobs to return;
// TryDispatch reports false from then on.
func (d *Dispatcher[J]) Close() {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		close(d.quit)
	}
	d.mu.Unlock()
	d.wg.Wait()
}
