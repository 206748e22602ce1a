// Package timers runs actor timers: in memory only, per actor, gone when the
// actor deactivates (the runtime calls DeleteActor) or the sidecar stops.
//
// One goroutine owns a min-heap of due times and sleeps until the earliest;
// each due firing runs on a worker of a schedule.Dispatcher (at most
// maxInFlight at once), which goes on with the next due one itself. A
// timer is back in the heap only after its firing returned, so firings of
// one timer never overlap; due times missed meanwhile are skipped (see
// schedule.Schedule.Next). A firing error is logged and the timer moves on
// to its next due time, as Dapr does; cancel=true from the app stops it.
package timers

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/outrigger/outrigger/internal/actors"
	"github.com/outrigger/outrigger/internal/actors/schedule"
)

// maxInFlight bounds concurrent firings; the scheduler waits for a free
// slot. With the reminders' 512 it stays within the app channel's 1024
// idle connections per host (see reminders.DefaultMaxInFlight).
const maxInFlight = 512

// Timer is one timer as handed to FireFunc.
type Timer struct {
	ActorType string
	ActorID   string
	Name      string
	Call      actors.TimerCall
	Schedule  schedule.Schedule
}

// Key returns "<type>||<id>||<name>", how Dapr names a timer in messages.
func (t Timer) Key() string { return t.ActorType + "||" + t.ActorID + "||" + t.Name }

// FireFunc delivers a firing; cancel=true stops the timer.
type FireFunc func(ctx context.Context, t Timer) (cancel bool, err error)

// CreateRequest registers a timer; Data is raw JSON or nil.
type CreateRequest struct {
	ActorType string
	ActorID   string
	Name      string
	DueTime   string
	Period    string
	TTL       string
	Callback  string
	Data      []byte
}

type actorKey struct{ actorType, actorID string }

// entry is one registered timer and its progress.
type entry struct {
	timer   Timer
	item    *schedule.Item[*entry]
	fired   int
	running bool
	removed bool // deleted or replaced; dropped when its firing returns
}

// Timers holds every timer of this sidecar.
type Timers struct {
	fire FireFunc
	log  *slog.Logger
	now  func() time.Time

	mu      sync.Mutex
	byActor map[actorKey]map[string]*entry
	queue   schedule.Queue[*entry]
	wake    chan struct{}
}

// New returns an empty timer set; call Run to start firing.
func New(fire FireFunc, log *slog.Logger) *Timers {
	if log == nil {
		log = slog.Default()
	}
	return &Timers{
		fire:    fire,
		log:     log,
		now:     time.Now,
		byActor: map[actorKey]map[string]*entry{},
		wake:    make(chan struct{}, 1),
	}
}

// Create registers a timer, replacing one of the same name on the actor.
// Errors carry Dapr's wording (wrap them as ERR_ACTOR_TIMER_CREATE).
func (t *Timers) Create(req CreateRequest) error {
	tm := Timer{
		ActorType: req.ActorType,
		ActorID:   req.ActorID,
		Name:      req.Name,
		Call:      actors.TimerCall{Callback: req.Callback, Data: req.Data, DueTime: req.DueTime, Period: req.Period},
	}
	s, err := schedule.Parse(req.DueTime, req.Period, req.TTL, t.now())
	if err != nil {
		return schedule.Describe(err, "timer", tm.Key())
	}
	tm.Schedule = s
	if !s.Active(s.First()) {
		return nil // the ttl ends at the first due time: nothing ever fires
	}
	e := &entry{timer: tm}
	e.item = schedule.NewItem(e)
	e.item.Due = s.First()

	t.mu.Lock()
	defer t.mu.Unlock()
	ak := actorKey{req.ActorType, req.ActorID}
	names := t.byActor[ak]
	if names == nil {
		names = map[string]*entry{}
		t.byActor[ak] = names
	}
	if old := names[req.Name]; old != nil {
		t.dropLocked(old)
	}
	names[req.Name] = e
	t.queue.Push(e.item)
	t.signal()
	return nil
}

// Delete removes a timer; a firing in progress completes but the timer does
// not fire again. Deleting a missing timer is not an error.
func (t *Timers) Delete(actorType, actorID, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ak := actorKey{actorType, actorID}
	if e := t.byActor[ak][name]; e != nil {
		t.dropLocked(e)
		delete(t.byActor[ak], name)
		if len(t.byActor[ak]) == 0 {
			delete(t.byActor, ak)
		}
	}
}

// DeleteActor removes every timer of an actor (it was deactivated).
func (t *Timers) DeleteActor(actorType, actorID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ak := actorKey{actorType, actorID}
	for _, e := range t.byActor[ak] {
		t.dropLocked(e)
	}
	delete(t.byActor, ak)
}

// Count returns the number of registered timers.
func (t *Timers) Count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, names := range t.byActor {
		n += len(names)
	}
	return n
}

// dropLocked takes e out of the heap; the caller unlinks it from byActor.
func (t *Timers) dropLocked(e *entry) {
	e.removed = true
	t.queue.Remove(e.item)
}

// unlinkLocked forgets e if it is still the registered timer of its name.
func (t *Timers) unlinkLocked(e *entry) {
	ak := actorKey{e.timer.ActorType, e.timer.ActorID}
	if t.byActor[ak][e.timer.Name] == e {
		delete(t.byActor[ak], e.timer.Name)
		if len(t.byActor[ak]) == 0 {
			delete(t.byActor, ak)
		}
	}
	e.removed = true
}

func (t *Timers) signal() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// Run fires timers until ctx ends, then waits for firings in progress.
// Due timers go one at a time to a worker of a schedule.Dispatcher, which
// fires it, schedules what follows and takes the next due timer itself if
// there is one. While every worker is busy, due timers stay queued and the
// first worker done takes the earliest.
func (t *Timers) Run(ctx context.Context) {
	d := schedule.NewDispatcher(maxInFlight, 0, func(f dueTimer) (dueTimer, bool) { return t.fireOne(ctx, f) })
	d.Run(ctx, t.next, t.putBack, t.wake)
}

type dueTimer struct {
	e   *entry
	due time.Time
}

// next takes the earliest timer if it is due (marking it running);
// otherwise it returns how long to sleep until it is.
func (t *Timers) next() (dueTimer, time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if f, ok := t.popDueLocked(now); ok {
		return f, 0, true
	}
	wait := time.Hour
	if it := t.queue.Peek(); it != nil {
		wait = max(it.Due.Sub(now), 0)
	}
	return dueTimer{}, wait, false
}

// putBack queues again a timer taken but not handed to a worker (every
// worker was busy), still due at the same time so it stays ahead of those
// due later.
func (t *Timers) putBack(f dueTimer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f.e.running = false
	if !f.e.removed {
		f.e.item.Due = f.due
		t.queue.Push(f.e.item)
	}
}

// popDueLocked takes the earliest timer if it is due, marking it running.
func (t *Timers) popDueLocked(now time.Time) (dueTimer, bool) {
	it := t.queue.PopDue(now)
	if it == nil {
		return dueTimer{}, false
	}
	it.Value.running = true
	return dueTimer{e: it.Value, due: it.Due}, true
}

// fireOne delivers one firing, schedules what follows it and returns the
// next due timer, if any, for the same worker. e.timer does not change
// while e is running.
func (t *Timers) fireOne(ctx context.Context, f dueTimer) (dueTimer, bool) {
	e := f.e
	cancel, err := t.fire(ctx, e.timer)
	if err != nil && ctx.Err() == nil {
		t.log.Warn("actor timer firing failed", "timer", e.timer.Key(), "error", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.finishLocked(e, f.due, cancel)
	if ctx.Err() != nil {
		return dueTimer{}, false
	}
	return t.popDueLocked(t.now())
}

// finishLocked schedules what follows a firing that was due at due.
func (t *Timers) finishLocked(e *entry, due time.Time, cancel bool) {
	e.running = false
	e.fired++
	if e.removed {
		return
	}
	next, ok := e.timer.Schedule.Next(due, e.fired, t.now())
	if cancel || !ok {
		t.unlinkLocked(e)
		return
	}
	e.item.Due = next
	t.queue.Push(e.item)
	if t.queue.Peek() == e.item {
		t.signal() // the loop may be sleeping past this due time
	}
}
