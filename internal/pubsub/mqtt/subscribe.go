package mqtt

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/outrigger/outrigger/internal/pubsub"
)

// metaUnsubscribeOnClose, in the subscribe request metadata, unsubscribes
// at the broker when the subscription stops (Dapr's dynamic
// subscriptions). Otherwise a persistent session keeps the subscription,
// so messages published meanwhile wait for the next Subscribe.
const metaUnsubscribeOnClose = "unsubscribeOnClose"

const (
	// Handler failures are retried here with this backoff: an MQTT 3.1.1
	// broker resends an unacknowledged message only on reconnect.
	firstRetry = 250 * time.Millisecond
	maxRetry   = 30 * time.Second
)

// subscription is one topic filter and its handler. Messages are handled
// concurrently, as Dapr does: MQTT does not order them for the app.
type subscription struct {
	b       *Broker
	filter  string // as subscribed, possibly "$share/<group>/..."
	match   string // filter without the $share prefix
	handler pubsub.Handler
	// unsubscribe at the broker when stopping
	unsubscribe bool
	ctx         context.Context
	cancel      context.CancelFunc
	inflight    sync.WaitGroup
}

// Subscribe subscribes to the topic filter (wildcards and $share allowed)
// and delivers matching messages, including any that arrived before.
func (b *Broker) Subscribe(ctx context.Context, req pubsub.SubscribeRequest, handler pubsub.Handler) error {
	client, err := b.connection()
	if err != nil {
		return err
	}
	if err := validFilter(req.Topic); err != nil {
		return fmt.Errorf("mqtt: %w", err)
	}
	subCtx, cancel := context.WithCancel(ctx)
	s := &subscription{
		b: b, filter: req.Topic, match: plainFilter(req.Topic), handler: handler,
		unsubscribe: b.cfg.cleanSession || truthy(req.Metadata[metaUnsubscribeOnClose]),
		ctx:         subCtx, cancel: cancel,
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		cancel()
		return errClosed
	}
	b.subs = append(b.subs, s)
	b.wg.Add(1)
	b.mu.Unlock()

	tok := client.Subscribe(s.filter, b.cfg.qos, nil)
	err = wait(ctx, tok, b.done)
	if err == nil {
		err = subackError(tok, s.filter)
	}
	if err != nil {
		cancel()
		s.stop()
		return fmt.Errorf("mqtt: subscribe to %q: %w", s.filter, err)
	}
	b.mu.Lock()
	b.unparkLocked()
	b.mu.Unlock()
	go s.run()
	return nil
}

// subackError reports a filter the broker refused (return code 0x80).
func subackError(tok paho.Token, filter string) error {
	st, ok := tok.(*paho.SubscribeToken)
	if !ok {
		return nil
	}
	if code, ok := st.Result()[filter]; ok && code == 0x80 {
		return fmt.Errorf("the broker refused the subscription")
	}
	return nil
}

// run waits for the end of the subscription.
func (s *subscription) run() {
	<-s.ctx.Done()
	s.stop()
}

// stop removes the subscription from routing, waits for its handlers and,
// when asked to and the broker stays open, unsubscribes at the broker.
func (s *subscription) stop() {
	defer s.b.wg.Done()
	b := s.b
	b.mu.Lock()
	b.subs = slices.DeleteFunc(b.subs, func(x *subscription) bool { return x == s })
	closing := b.closed
	b.mu.Unlock()
	s.inflight.Wait()
	if !s.unsubscribe || closing {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultWait)
	defer cancel()
	if err := wait(ctx, b.client.Unsubscribe(s.filter), b.done); err != nil {
		b.log.Warn("unsubscribing failed", "topic", s.filter, "error", err)
	}
}

// startLocked runs the handler for m on its own goroutine. The caller
// holds b.mu, which orders it before stop's removal and wait.
func (s *subscription) startLocked(m paho.Message) {
	s.inflight.Add(1)
	go func() {
		defer s.inflight.Done()
		s.process(m)
	}()
}

// process calls the handler until it succeeds, then acknowledges. When
// the subscription stops first, the message goes back to the broker's
// routing unacknowledged.
func (s *subscription) process(m paho.Message) {
	msg := &pubsub.Message{
		Topic:    m.Topic(),
		Data:     m.Payload(),
		Metadata: map[string]string{"retained": strconv.FormatBool(m.Retained())},
	}
	for retry := firstRetry; s.ctx.Err() == nil; retry = min(2*retry, maxRetry) {
		err := s.handler(s.ctx, msg)
		if err == nil {
			m.Ack()
			return
		}
		if s.ctx.Err() != nil {
			break
		}
		s.b.log.Debug("handler failed; retrying", "topic", m.Topic(), "retry_in", retry, "error", err)
		select {
		case <-time.After(retry):
		case <-s.ctx.Done():
		}
	}
	// Stopped: back to routing (a live subscription, or the park).
	s.b.mu.Lock()
	s.b.dispatchLocked(m)
	s.b.mu.Unlock()
}
