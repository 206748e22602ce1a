package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/outrigger/outrigger/internal/pubsub"
)

const (
	// drainTimeout bounds the graceful part of stopping a subscription.
	drainTimeout = 5 * time.Second
	// apiTimeout bounds one JetStream API call made in the background.
	apiTimeout = 10 * time.Second
	// maxRecoveryWait caps the pause between consumer recovery attempts.
	maxRecoveryWait = 30 * time.Second
)

// subscription is one topic's push consumer and the NATS subscription on
// its deliver subject.
type subscription struct {
	b       *Broker
	log     *slog.Logger
	topic   string
	stream  string
	handler pubsub.Handler
	// ctx is the handlers' context: cancelled when the subscription stops.
	ctx    context.Context
	cancel context.CancelFunc

	// Set by start and by recovery, both before or inside run.
	consumer       string
	deliverSubject string
	group          string

	sub       *nats.Subscription
	done      chan struct{} // closed once sub calls onMsg no more
	inflight  sync.WaitGroup
	lastSeq   atomic.Uint64 // highest stream sequence received
	reconnect chan struct{} // capacity 1: "check the consumer still exists"

	mu sync.Mutex
	// handBack holds messages not processed because the subscription was
	// stopping; they are nak'ed once nothing more can arrive here, so the
	// server hands them to the next subscriber without waiting for ackWait.
	handBack []*nats.Msg
}

// Subscribe creates (or reuses) the topic's consumer and starts delivering
// its messages to handler.
func (b *Broker) Subscribe(ctx context.Context, req pubsub.SubscribeRequest, handler pubsub.Handler) error {
	js, err := b.client()
	if err != nil {
		return err
	}
	if req.Topic == "" {
		return errors.New("jetstream: topic is empty")
	}
	stream, err := b.streamFor(ctx, js, req.Topic)
	if err != nil {
		return err
	}
	subCtx, cancel := context.WithCancel(ctx)
	s := &subscription{
		b: b, topic: req.Topic, stream: stream, handler: handler,
		log:    b.log.With("topic", req.Topic, "stream", stream),
		ctx:    subCtx,
		cancel: cancel,
		done:   make(chan struct{}),
		// Buffered so a reconnect never waits for a busy subscription.
		reconnect: make(chan struct{}, 1),
	}
	if err := s.start(ctx); err != nil {
		cancel()
		return err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		cancel()
		s.stop()
		return errClosed
	}
	b.subs[s] = struct{}{}
	b.wg.Add(1)
	b.mu.Unlock()
	go s.run()
	return nil
}

// streamFor names the stream holding topic: streamName, or the one stream
// whose subjects capture it.
func (b *Broker) streamFor(ctx context.Context, js jetstream.JetStream, topic string) (string, error) {
	if b.cfg.streamName != "" {
		return b.cfg.streamName, nil
	}
	name, err := js.StreamNameBySubject(ctx, topic)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return "", fmt.Errorf("jetstream: no stream captures subject %q: create one or set streamName: %w", topic, err)
	}
	if err != nil {
		return "", fmt.Errorf("jetstream: look up the stream for subject %q: %w", topic, err)
	}
	return name, nil
}

// consumerConfig maps the metadata to a push consumer on topic.
func (c config) consumerConfig(topic string) jetstream.ConsumerConfig {
	cc := jetstream.ConsumerConfig{
		Durable:       c.durableName,
		DeliverGroup:  c.queueGroup,
		DeliverPolicy: c.deliverPolicy,
		AckPolicy:     c.ackPolicy,
		AckWait:       c.ackWait,
		MaxDeliver:    c.maxDeliver,
		BackOff:       c.backOff,
		FilterSubject: topic,
		RateLimit:     c.rateLimit,
		MaxAckPending: c.maxAckPending,
		Replicas:      c.replicas,
		MemoryStorage: c.memoryStorage,
		FlowControl:   c.flowControl,
		IdleHeartbeat: c.heartbeat,
	}
	switch c.deliverPolicy {
	case jetstream.DeliverByStartSequencePolicy:
		cc.OptStartSeq = c.startSeq
	case jetstream.DeliverByStartTimePolicy:
		t := c.startTime
		cc.OptStartTime = &t
	}
	return cc
}

// start creates the consumer and subscribes to its deliver subject.
func (s *subscription) start(ctx context.Context) error {
	if err := s.upsertConsumer(ctx, s.b.cfg.consumerConfig(s.topic)); err != nil {
		return err
	}
	var err error
	if s.group != "" {
		s.sub, err = s.b.nc.QueueSubscribe(s.deliverSubject, s.group, s.onMsg)
	} else {
		s.sub, err = s.b.nc.Subscribe(s.deliverSubject, s.onMsg)
	}
	if err != nil {
		return fmt.Errorf("jetstream: subscribe to deliver subject of consumer %q: %w", s.consumer, err)
	}
	s.sub.SetClosedHandler(func(string) { close(s.done) })
	return nil
}

// upsertConsumer creates the consumer, or updates the durable one so the
// metadata applies, keeping the deliver subject that running instances
// (of this app or of Dapr) already listen on.
func (s *subscription) upsertConsumer(ctx context.Context, cfg jetstream.ConsumerConfig) error {
	var (
		pc  jetstream.PushConsumer
		err error
	)
	if cfg.Durable == "" {
		cfg.DeliverSubject = s.deliverSubject
		if cfg.DeliverSubject == "" {
			cfg.DeliverSubject = nats.NewInbox()
		}
		pc, err = s.b.js.CreatePushConsumer(ctx, s.stream, cfg)
	} else {
		if cfg.DeliverSubject, err = s.durableDeliverSubject(ctx, cfg.Durable); err != nil {
			return err
		}
		pc, err = s.b.js.CreateOrUpdatePushConsumer(ctx, s.stream, cfg)
	}
	if err != nil {
		return fmt.Errorf("jetstream: create consumer %q on stream %q for subject %q: %w", cfg.Durable, s.stream, s.topic, err)
	}
	info := pc.CachedInfo()
	s.consumer, s.deliverSubject, s.group = info.Name, info.Config.DeliverSubject, info.Config.DeliverGroup
	return nil
}

// durableDeliverSubject returns the deliver subject of the existing durable
// consumer, or a fixed one derived from its name so instances that create
// it concurrently agree.
func (s *subscription) durableDeliverSubject(ctx context.Context, durable string) (string, error) {
	pc, err := s.b.js.PushConsumer(ctx, s.stream, durable)
	switch {
	case err == nil:
		cfg := pc.CachedInfo().Config
		if cfg.FilterSubject != s.topic {
			return "", fmt.Errorf("jetstream: durable consumer %q on stream %q filters subject %q, not topic %q: use a durableName per topic",
				durable, s.stream, cfg.FilterSubject, s.topic)
		}
		return cfg.DeliverSubject, nil
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		if s.deliverSubject != "" {
			return s.deliverSubject, nil
		}
		return "_INBOX." + s.stream + "." + durable, nil
	case errors.Is(err, jetstream.ErrNotPushConsumer):
		return "", fmt.Errorf("jetstream: consumer %q on stream %q is a pull consumer; this component needs a push consumer: %w", durable, s.stream, err)
	}
	return "", fmt.Errorf("jetstream: look up consumer %q on stream %q: %w", durable, s.stream, err)
}

// run owns the subscription: it restores the consumer after reconnects and
// stops everything when the context ends.
func (s *subscription) run() {
	defer s.b.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			s.stop()
			s.b.mu.Lock()
			delete(s.b.subs, s)
			s.b.mu.Unlock()
			return
		case <-s.reconnect:
			s.recover()
		}
	}
}

func (s *subscription) notifyReconnect() {
	select {
	case s.reconnect <- struct{}{}:
	default:
	}
}

// recover recreates the consumer if it vanished while the connection was
// down, retrying until it succeeds or the subscription stops.
func (s *subscription) recover() {
	wait := time.Second
	for s.ctx.Err() == nil {
		err := s.ensureConsumer()
		if err == nil {
			return
		}
		s.log.Warn("cannot restore the consumer after reconnecting; retrying", "consumer", s.consumer, "error", err, "retry_in", wait)
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, maxRecoveryWait)
	}
}

// ensureConsumer checks the consumer exists and recreates it otherwise.
// An ephemeral one starts after the last message received, so nothing is
// replayed; a durable one keeps the configured deliver policy, which its
// later updates must not change (the server refuses that).
func (s *subscription) ensureConsumer() error {
	ctx, cancel := context.WithTimeout(s.ctx, apiTimeout)
	defer cancel()
	_, err := s.b.js.PushConsumer(ctx, s.stream, s.consumer)
	if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return err
	}
	cfg := s.b.cfg.consumerConfig(s.topic)
	if seq := s.lastSeq.Load(); seq > 0 && cfg.Durable == "" {
		cfg.DeliverPolicy, cfg.OptStartSeq, cfg.OptStartTime = jetstream.DeliverByStartSequencePolicy, seq+1, nil
	}
	s.log.Warn("consumer vanished while disconnected; recreating it", "consumer", s.consumer, "start_sequence", cfg.OptStartSeq)
	return s.upsertConsumer(ctx, cfg)
}

// stop unsubscribes, lets buffered messages through onMsg (which sets them
// aside), waits for running handlers and hands back what was not processed.
func (s *subscription) stop() {
	if err := s.sub.Drain(); err != nil {
		_ = s.sub.Unsubscribe()
	}
	select {
	case <-s.done:
	case <-time.After(drainTimeout):
		_ = s.sub.Unsubscribe()
		<-s.done
	}
	s.inflight.Wait()
	s.mu.Lock()
	msgs := s.handBack
	s.handBack = nil
	s.mu.Unlock()
	for _, m := range msgs {
		if err := m.Nak(); err != nil {
			s.log.Debug("handing back an unprocessed message", "error", err)
		}
	}
}

// onMsg is the NATS callback: sequential per subscription, so with
// concurrency=single handlers run one at a time in stream order.
func (s *subscription) onMsg(m *nats.Msg) {
	if len(m.Data) == 0 && m.Header.Get("Status") != "" {
		s.control(m)
		return
	}
	if s.ctx.Err() != nil {
		s.setAside(m)
		return
	}
	if meta, err := m.Metadata(); err == nil {
		s.noteSeq(meta.Sequence.Stream)
	}
	if !s.b.cfg.parallel {
		s.handle(m)
		return
	}
	s.inflight.Add(1)
	go func() {
		defer s.inflight.Done()
		s.handle(m)
	}()
}

// control answers flow-control requests and stalled heartbeats.
func (s *subscription) control(m *nats.Msg) {
	switch {
	case m.Header.Get("Status") != "100":
		s.log.Warn("JetStream status message", "status", m.Header.Get("Status"), "description", m.Header.Get("Description"))
	case m.Reply != "":
		_ = m.Respond(nil)
	case m.Header.Get("Nats-Consumer-Stalled") != "":
		_ = s.b.nc.Publish(m.Header.Get("Nats-Consumer-Stalled"), nil)
	}
}

func (s *subscription) noteSeq(seq uint64) {
	for {
		old := s.lastSeq.Load()
		if seq <= old || s.lastSeq.CompareAndSwap(old, seq) {
			return
		}
	}
}

func (s *subscription) setAside(m *nats.Msg) {
	s.mu.Lock()
	s.handBack = append(s.handBack, m)
	s.mu.Unlock()
}

// handle runs the handler and settles the message: ack on success, set
// aside when cancelled, nak (delayed per backOff or ackWait) on error.
func (s *subscription) handle(m *nats.Msg) {
	err := s.handler(s.ctx, &pubsub.Message{
		Topic:       s.topic,
		Data:        m.Data,
		ContentType: m.Header.Get(headerContentType),
		Metadata:    map[string]string{"Topic": m.Subject},
	})
	if s.b.cfg.ackPolicy == jetstream.AckNonePolicy {
		return
	}
	switch {
	case err == nil:
		if err := m.Ack(); err != nil {
			s.log.Warn("ack failed; the message will be redelivered", "error", err)
		}
	case s.ctx.Err() != nil:
		s.setAside(m)
	default:
		s.log.Debug("handler failed; message will be redelivered", "subject", m.Subject, "error", err)
		if err := s.nak(m); err != nil {
			s.log.Warn("nak failed; the message will be redelivered after ackWait", "error", err)
		}
	}
}

// nak asks for redelivery, after the backOff step for this delivery count
// when backOff is set, or after ackWait when only that is set (as Dapr).
func (s *subscription) nak(m *nats.Msg) error {
	c := s.b.cfg
	if len(c.backOff) > 0 {
		n := 1
		if meta, err := m.Metadata(); err == nil && meta.NumDelivered > 0 {
			n = int(min(meta.NumDelivered, uint64(len(c.backOff))))
		}
		return m.NakWithDelay(c.backOff[n-1])
	}
	if c.ackWait > 0 {
		return m.NakWithDelay(c.ackWait)
	}
	return m.Nak()
}
