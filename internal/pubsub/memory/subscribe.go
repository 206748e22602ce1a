package memory

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"

	"github.com/outrigger/outrigger/internal/pubsub"
)

// member is one subscription in a group. Its workers start on demand, up
// to max.
type member struct {
	ctx     context.Context // cancelled when the subscription stops
	handler pubsub.Handler
	log     *slog.Logger
	max     int
	wg      sync.WaitGroup // the workers
	stopped bool           // guarded by the group's mu
	workers int            // guarded by the group's mu
}

// Subscribe joins the group named by the subscription's consumerID (else
// the component's) on req.Topic and starts the subscription's workers.
// Messages published once it returns are delivered.
func (b *Broker) Subscribe(ctx context.Context, req pubsub.SubscribeRequest, handler pubsub.Handler) error {
	if req.Topic == "" {
		return errors.New("pubsub.in-memory: subscribe: empty topic")
	}
	if handler == nil {
		return errors.New("pubsub.in-memory: subscribe: nil handler")
	}
	name := prop(req.Metadata, pubsub.MetaConsumerID)
	if name == "" {
		name = b.consumerID
	}
	sctx, cancel := context.WithCancel(ctx)
	m := &member{ctx: sctx, handler: handler, log: b.log, max: b.concurrency}
	g, err := b.join(req.Topic, name, m)
	if err != nil {
		cancel()
		return err
	}
	stopOnClose := context.AfterFunc(b.ctx, cancel)
	// join counted the member in b.wg; it is done when its workers are.
	context.AfterFunc(sctx, func() {
		stopOnClose()
		b.leave(g, m)
		m.wg.Wait()
		b.wg.Done()
	})
	return nil
}

// join adds m to the group (pattern, name), creating it if needed, and
// counts it in b.wg: under b.mu, so Close cannot slip in between.
func (b *Broker) join(pattern, name string, m *member) (*group, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errClosed
	}
	table := b.exact
	if isWildcard(pattern) {
		table = b.wild
	}
	byName := table[pattern]
	if byName == nil {
		byName = map[string]*group{}
		table[pattern] = byName
	}
	g := byName[name]
	if g == nil {
		g = newGroup(pattern, name)
		byName[name] = g
	}
	g.mu.Lock()
	g.members = append(g.members, m)
	g.mu.Unlock()
	b.wg.Add(1)
	return g, nil
}

// leave removes a stopped member; the last one out closes the group, which
// drops its queue (nothing is kept without a subscriber).
func (b *Broker) leave(g *group, m *member) {
	b.mu.Lock()
	defer b.mu.Unlock()
	g.mu.Lock()
	defer g.mu.Unlock()
	m.stopped = true
	g.members = slices.DeleteFunc(g.members, func(x *member) bool { return x == m })
	if len(g.members) == 0 {
		g.closed = true
		table := b.exact
		if isWildcard(g.pattern) {
			table = b.wild
		}
		if table[g.pattern][g.name] == g {
			delete(table[g.pattern], g.name)
			if len(table[g.pattern]) == 0 {
				delete(table, g.pattern)
			}
		}
	}
	g.cond.Broadcast()
}

// work is one worker of a member: it takes messages from the group until
// the member stops.
func (m *member) work(g *group) {
	ctx := m.ctx
	for {
		d := g.next(m)
		if d == nil {
			return
		}
		if ctx.Err() != nil {
			// Stopped before leave ran: hand the message back untouched.
			g.release(d)
			g.push(d, true)
			return
		}
		d.attempts++
		// A copy per call: the stored message is shared by every group
		// and redelivery, and a handler may keep or change what it gets.
		msg := &pubsub.Message{
			Topic:       d.msg.topic,
			Data:        bytes.Clone(d.msg.data),
			ContentType: d.msg.contentType,
			Metadata:    maps.Clone(d.msg.metadata),
		}
		err := m.handler(ctx, msg)
		g.release(d)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			// Cancelled mid-way: another member may take it at once.
			g.push(d, true)
		default:
			m.log.Debug("handler failed; redelivering", "topic", d.msg.topic, "group", g.name, "attempt", d.attempts, "error", err)
			g.retryLater(d)
		}
	}
}
