package sqlite

import (
	"sync"

	"github.com/outrigger/outrigger/internal/pubsub"
)

// item is one claimed message waiting for, or in, a handler call.
type item struct {
	id       int64
	attempts int
	key      string // partition key: one at a time, in order
	msg      pubsub.Message
}

// keyState tracks a partition key with a message in a handler; later
// messages with the key wait here, in claim order.
type keyState struct {
	busy    bool
	waiting []*item
}

// queue holds a subscription's claimed messages for its workers. Messages
// with a partition key already in a handler wait behind it, so each key is
// handled in order while other messages run concurrently.
//
// Workers start on demand, up to max, so a quiet subscription holds few
// goroutines.
type queue struct {
	mu      sync.Mutex
	cond    *sync.Cond
	ready   []*item
	keys    map[string]*keyState
	stopped bool
	idle    int    // workers waiting in next
	workers int    // workers started
	max     int    // most workers
	spawn   func() // starts a worker that loops on next
}

func newQueue(max int, spawn func()) *queue {
	q := &queue{keys: map[string]*keyState{}, max: max, spawn: spawn}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// push appends claimed items in claim order.
func (q *queue) push(items []*item) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stopped {
		return
	}
	q.ready = append(q.ready, items...)
	for n := len(q.ready) - q.idle; n > 0 && q.workers < q.max; n-- {
		q.workers++
		q.spawn()
	}
	q.cond.Broadcast()
}

// next blocks until an item may be handled and returns it, or nil once
// the queue is stopped.
func (q *queue) next() *item {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		for len(q.ready) == 0 && !q.stopped {
			q.idle++
			q.cond.Wait()
			q.idle--
		}
		if q.stopped {
			return nil
		}
		it := q.ready[0]
		q.ready[0] = nil
		q.ready = q.ready[1:]
		if it.key == "" {
			return it
		}
		ks := q.keys[it.key]
		if ks == nil {
			ks = &keyState{}
			q.keys[it.key] = ks
		}
		if ks.busy {
			ks.waiting = append(ks.waiting, it)
			continue
		}
		ks.busy = true
		return it
	}
}

// done frees the item's partition key and readies the next item waiting
// for it, ahead of everything else: it was claimed earlier.
func (q *queue) done(it *item) {
	if it.key == "" {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	ks := q.keys[it.key]
	if ks == nil {
		return
	}
	ks.busy = false
	if len(ks.waiting) == 0 {
		delete(q.keys, it.key)
		return
	}
	w := ks.waiting[0]
	ks.waiting[0] = nil
	ks.waiting = ks.waiting[1:]
	q.ready = append([]*item{w}, q.ready...)
	q.cond.Signal()
}

// stop wakes the workers for good and returns the items never handed out.
func (q *queue) stop() []*item {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.stopped = true
	q.cond.Broadcast()
	left := q.ready
	for _, ks := range q.keys {
		left = append(left, ks.waiting...)
	}
	q.ready, q.keys = nil, map[string]*keyState{}
	return left
}
