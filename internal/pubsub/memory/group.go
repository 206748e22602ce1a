package memory

import (
	"sync"
	"time"
)

// stored is one published message; it is shared, read-only, by every
// group that receives it.
type stored struct {
	topic       string
	data        []byte
	contentType string
	metadata    map[string]string
	key         string // partition key: messages with one key run one at a time, in order
}

// delivery is one message on its way through one group.
type delivery struct {
	msg      *stored
	attempts int
}

// keyState tracks a partition key with a message in flight; later
// messages with the key wait here, in publish order.
type keyState struct {
	busy    bool
	waiting []*delivery
}

// group is one consumer group on one topic pattern: a queue that the
// workers of all its member subscriptions pull from, so members share the
// work and a message left by one member goes to another.
type group struct {
	pattern, name string

	mu      sync.Mutex
	cond    *sync.Cond // signalled when ready grows or a member stops
	ready   fifo
	keys    map[string]*keyState
	members []*member
	idle    int  // workers waiting in next
	closed  bool // no member left: drop everything
}

func newGroup(pattern, name string) *group {
	g := &group{pattern: pattern, name: name, keys: map[string]*keyState{}}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// push queues a message at the back (new) or the front (returned by a
// stopped member, so it keeps its place).
func (g *group) push(d *delivery, front bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return
	}
	if front {
		g.ready.pushFront(d)
	} else {
		g.ready.pushBack(d)
	}
	g.grow()
	g.cond.Signal()
}

// pushAll queues messages at the back, in order, under one lock.
func (g *group) pushAll(ds []*delivery) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return
	}
	for _, d := range ds {
		g.ready.pushBack(d)
		g.grow()
	}
	g.cond.Broadcast()
}

// grow starts one more worker when messages outnumber the idle workers.
// Workers start on demand, so a quiet subscription holds few goroutines;
// the member with the fewest workers gets it. The lock is held.
func (g *group) grow() {
	if g.ready.len() <= g.idle {
		return
	}
	var pick *member
	for _, m := range g.members {
		if !m.stopped && m.workers < m.max && (pick == nil || m.workers < pick.workers) {
			pick = m
		}
	}
	if pick != nil {
		pick.workers++
		pick.wg.Add(1)
		go func() {
			defer pick.wg.Done()
			pick.work(g)
		}()
	}
}

// next blocks until a message is ready for member m and returns it, or nil
// once m has stopped. A message whose key is busy is parked behind that
// key instead.
func (g *group) next(m *member) *delivery {
	g.mu.Lock()
	defer g.mu.Unlock()
	for {
		for g.ready.len() == 0 && !m.stopped && !g.closed {
			g.idle++
			g.cond.Wait()
			g.idle--
		}
		if m.stopped || g.closed {
			return nil
		}
		d := g.ready.popFront()
		if d.msg.key == "" {
			return d
		}
		ks := g.keys[d.msg.key]
		if ks == nil {
			ks = &keyState{}
			g.keys[d.msg.key] = ks
		}
		if ks.busy {
			ks.waiting = append(ks.waiting, d)
			continue
		}
		ks.busy = true
		return d
	}
}

// release frees d's partition key and readies the next message waiting
// for it, ahead of everything else: it was published earlier.
func (g *group) release(d *delivery) {
	if d.msg.key == "" {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	ks := g.keys[d.msg.key]
	if ks == nil {
		return
	}
	ks.busy = false
	if len(ks.waiting) == 0 {
		delete(g.keys, d.msg.key)
		return
	}
	w := ks.waiting[0]
	ks.waiting[0] = nil
	ks.waiting = ks.waiting[1:]
	g.ready.pushFront(w)
	g.grow()
	g.cond.Signal()
}

// retryLater queues d again after a backoff that doubles per attempt.
func (g *group) retryLater(d *delivery) {
	time.AfterFunc(backoff(d.attempts), func() { g.push(d, false) })
}

// backoff is the delay before redelivering a message that failed attempts
// times: 100ms, doubling, at most 5s.
func backoff(attempts int) time.Duration {
	const first, most = 100 * time.Millisecond, 5 * time.Second
	d := first
	for i := 1; i < attempts && d < most; i++ {
		d *= 2
	}
	return min(d, most)
}

// fifo is a queue of deliveries that can also push to the front.
type fifo struct {
	items []*delivery
	head  int
}

func (q *fifo) len() int { return len(q.items) - q.head }

func (q *fifo) pushBack(d *delivery) { q.items = append(q.items, d) }

func (q *fifo) pushFront(d *delivery) {
	if q.head > 0 {
		q.head--
		q.items[q.head] = d
		return
	}
	q.items = append([]*delivery{d}, q.items...)
}

func (q *fifo) popFront() *delivery {
	d := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	switch {
	case q.head == len(q.items):
		q.items, q.head = q.items[:0], 0
	case q.head >= 1024 && q.head*2 >= len(q.items):
		// Reclaim the consumed prefix so a queue that never empties does
		// not grow forever.
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return d
}
