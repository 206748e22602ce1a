package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outrigger/outrigger/internal/pubsub"
)

// fallbackPoll is how often a subscription looks for due redeliveries,
// expired leases and crashed owners even when nothing woke it.
const fallbackPoll = time.Second

// subscription is one Subscribe call: a fetch loop that claims messages
// for the group and a pool of workers that call the handler.
type subscription struct {
	b            *Broker
	topic, group string
	handler      pubsub.Handler
	q            *queue
	// Wake-ups, each buffered by one so senders never block: wake after a
	// local publish on the topic, poll when something may have changed
	// (another process wrote, a retry is due), freed when a handler
	// finished.
	wake, poll, freed chan struct{}
	outstanding       atomic.Int64 // claimed and not yet finished
	lastClaim         time.Time    // when fill last claimed; only run uses it

	// inFlight holds the ids this subscription's handlers are working on.
	// When a handler outlives its lease, a claim may hand the same message
	// back to this instance; it must not be delivered twice at once.
	mu       sync.Mutex
	inFlight map[int64]struct{}
}

// Subscribe joins the consumer group named by the subscription's
// consumerID (else the component's) on req.Topic and starts delivering.
// Messages published once it returns are delivered; so are those the group
// left unacknowledged before.
func (b *Broker) Subscribe(ctx context.Context, req pubsub.SubscribeRequest, handler pubsub.Handler) error {
	if req.Topic == "" {
		return errors.New("pubsub.sqlite: subscribe: empty topic")
	}
	if handler == nil {
		return errors.New("pubsub.sqlite: subscribe: nil handler")
	}
	group, _ := prop(req.Metadata, pubsub.MetaConsumerID)
	if group == "" {
		group = b.cfg.consumerID
	}
	if b.wdb == nil {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pubsub.sqlite: subscribe to %q: %w", req.Topic, err)
	}
	jctx, cancel := b.dbContext(ctx)
	err := b.inWrite(jctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(jctx, b.sql.joinGroup,
			sql.Named("topic", req.Topic), sql.Named("grp", group), sql.Named("now", time.Now().UnixMilli()))
		return err
	})
	cancel()
	if err != nil {
		return fmt.Errorf("pubsub.sqlite: subscribe to %q as %q: %w", req.Topic, group, err)
	}
	s := &subscription{
		b: b, topic: req.Topic, group: group, handler: handler,
		wake: make(chan struct{}, 1), poll: make(chan struct{}, 1), freed: make(chan struct{}, 1),
		inFlight: map[int64]struct{}{},
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return errClosed
	}
	b.subs[s] = struct{}{}
	b.wg.Add(1)
	b.mu.Unlock()
	sctx, cancelSub := context.WithCancel(ctx)
	stopOnClose := context.AfterFunc(b.ctx, cancelSub)
	go func() {
		defer b.wg.Done()
		defer cancelSub()
		defer stopOnClose()
		s.run(sctx)
	}()
	return nil
}

// signal wakes a loop without blocking.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// notify wakes the local subscriptions of topics after a publish commits.
func (b *Broker) notify(topics map[string]bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for s := range b.subs {
		if topics[s.topic] {
			signal(s.wake)
		}
	}
}

// pollAll asks every subscription to look for work.
func (b *Broker) pollAll() {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for s := range b.subs {
		signal(s.poll)
	}
}

// run is the fetch loop. When it ends, the workers finish their handler
// calls and everything claimed but unfinished is handed back at once.
func (s *subscription) run(ctx context.Context) {
	// Only this goroutine pushes to the queue, so no worker starts once
	// the deferred Wait runs.
	var workers sync.WaitGroup
	s.q = newQueue(s.b.cfg.concurrency, func() {
		workers.Add(1)
		go func() {
			defer workers.Done()
			s.work(ctx)
		}()
	})
	defer func() {
		left := s.q.stop()
		workers.Wait()
		now := time.Now().UnixMilli()
		for _, it := range left {
			s.b.w.ops <- &op{kind: opNack, key: s.key(it), until: now}
		}
		s.b.mu.Lock()
		delete(s.b.subs, s)
		s.b.mu.Unlock()
	}()
	tick := time.NewTicker(fallbackPoll)
	defer tick.Stop()
	// Start by checking: the group may have a backlog or leftovers.
	pending, check := work{fresh: true, due: true}, true
	for {
		if pending.any() {
			pending, check = s.fill(ctx, pending, check)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
			pending.fresh = true
		case <-s.poll:
			pending, check = work{fresh: true, due: true}, true
		case <-tick.C:
			pending, check = work{fresh: true, due: true}, true
		case <-s.freed:
		}
	}
}

// fill claims messages while the workers have room. check asks for a
// cheap read first, to skip the write transaction when nothing is there.
// It returns what may still be waiting, and whether to check first.
//
// With most workers busy it waits until a quarter of them are free (or a
// poll interval went by): a claim is a write transaction, and claiming one
// message each time one handler finished cost more than the deliveries
// themselves. The busy workers keep the subscription going meanwhile.
func (s *subscription) fill(ctx context.Context, w work, check bool) (work, bool) {
	for {
		outstanding := int(s.outstanding.Load())
		free := s.b.cfg.concurrency - outstanding
		if free <= 0 || (free < s.minClaim() && outstanding > 0 && time.Since(s.lastClaim) < s.b.cfg.pollInterval) {
			return w, check
		}
		if check {
			var err error
			if w, err = s.hasWork(ctx); err != nil {
				if ctx.Err() == nil {
					s.b.log.Warn("checking for messages failed", "topic", s.topic, "group", s.group, "err", err)
				}
				return work{}, false // the next tick retries
			}
			if !w.any() {
				return work{}, false
			}
		}
		s.lastClaim = time.Now()
		items, err := s.claim(ctx, free, w)
		if err != nil {
			if ctx.Err() == nil {
				s.b.log.Warn("claiming messages failed", "topic", s.topic, "group", s.group, "err", err)
			}
			return work{}, false
		}
		claimed := len(items)
		if items = s.track(items); len(items) > 0 {
			s.outstanding.Add(int64(len(items)))
			s.q.push(items)
		}
		if claimed < free {
			return work{}, false
		}
		// A full batch: more is likely, so the next claim goes ahead
		// without the read that checks first. Deliveries due again are
		// left to the next poll, which checks for both kinds.
		w, check = work{fresh: true, due: w.due}, false
	}
}

// minClaim is the fewest free workers worth a claim while others are busy.
func (s *subscription) minClaim() int {
	return max(1, s.b.cfg.concurrency/4)
}

// work calls the handler for queued items until the queue stops.
func (s *subscription) work(ctx context.Context) {
	for {
		it := s.q.next()
		if it == nil {
			return
		}
		var err error
		if err = ctx.Err(); err == nil {
			err = s.handler(ctx, &it.msg)
		}
		s.q.done(it)
		s.untrack(it)
		o := &op{key: s.key(it)}
		switch {
		case err == nil:
			o.kind = opAck
		case ctx.Err() != nil:
			// Stopped: hand it back for the group's next subscriber now.
			o.kind, o.until = opNack, time.Now().UnixMilli()
		default:
			delay := s.b.cfg.backoff(it.attempts)
			o.kind, o.until = opNack, time.Now().Add(delay).UnixMilli()
			s.b.log.Debug("handler failed; redelivering", "topic", s.topic, "group", s.group, "attempt", it.attempts, "in", delay, "err", err)
			// Look again when it is due (plus a little for the nack to commit).
			time.AfterFunc(delay+20*time.Millisecond, func() { signal(s.poll) })
		}
		s.b.w.ops <- o
		s.outstanding.Add(-1)
		signal(s.freed)
	}
}

// track records claimed items as in flight and drops those already in
// flight here: the claim only renewed the lease of a message a slow
// handler of this instance still holds.
func (s *subscription) track(items []*item) []*item {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := items[:0]
	for _, it := range items {
		if _, busy := s.inFlight[it.id]; busy {
			continue
		}
		s.inFlight[it.id] = struct{}{}
		kept = append(kept, it)
	}
	return kept
}

func (s *subscription) untrack(it *item) {
	s.mu.Lock()
	delete(s.inFlight, it.id)
	s.mu.Unlock()
}

func (s *subscription) key(it *item) deliveryKey {
	return deliveryKey{topic: s.topic, grp: s.group, owner: s.b.id, msgID: it.id}
}

// backoff is the delay before redelivering a message that failed attempts
// times: retryBackoff, doubling per attempt, at most maxRetryBackoff.
func (c config) backoff(attempts int) time.Duration {
	d := c.retryBackoff
	for i := 1; i < attempts && d < c.maxRetryBackoff; i++ {
		d *= 2
	}
	return min(d, c.maxRetryBackoff)
}
