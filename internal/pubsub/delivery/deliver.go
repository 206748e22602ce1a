package delivery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/telemetry/metrics"
	"github.com/outrigger/outrigger/internal/telemetry/tracing"
)

// outcome is what the consumer decided for one message.
type outcome int

const (
	outcomeSuccess outcome = iota // acknowledge
	outcomeRetry                  // redeliver (or dead-letter)
	outcomeDrop                   // acknowledge, dead-letter if configured
)

// label is the outcome as daprd's ingress metrics name it.
func (o outcome) label() string {
	switch o {
	case outcomeSuccess:
		return metrics.IngressSuccess
	case outcomeDrop:
		return metrics.IngressDrop
	}
	return metrics.IngressRetry
}

// errAborted marks deliveries cut off by the sidecar itself (shutdown, a
// closed stream): the message goes back to the broker, never to the
// dead-letter topic.
var errAborted = errors.New("delivery aborted")

// delivery is one routed message on its way to a consumer.
type delivery struct {
	comp  *pubsub.Component
	sub   *subscription
	msg   *pubsub.Message
	ev    *event
	topic string // without the component's namespace prefix
	path  string // matched route
}

// deliverer hands one routed event to its consumer (the app, a bulk
// batch, a stream) and reports the outcome; the error explains a retry.
type deliverer func(ctx context.Context, d *delivery) (outcome, error)

// handler is the broker Handler of one subscription.
func (e *Engine) handler(comp *pubsub.Component, s *subscription, deliver deliverer) pubsub.Handler {
	return func(ctx context.Context, msg *pubsub.Message) error {
		if err := ctx.Err(); err != nil {
			return err // the subscription stopped: the broker keeps the message
		}
		if !e.inflight.Enter() {
			return fmt.Errorf("shutting down: %w", errAborted)
		}
		defer e.inflight.Leave()
		// A delivery in flight finishes even when its subscription stops
		// (unhealthy app, shutdown); only Stop's deadline, which cancels
		// e.life, aborts it. Brokers put no values in ctx, so e.life
		// itself serves, without a context per message.
		return e.process(e.life, comp, s, msg, deliver)
	}
}

// process parses, filters and routes one message, delivers it and settles
// the outcome. nil acknowledges the message to the broker.
func (e *Engine) process(ctx context.Context, comp *pubsub.Component, s *subscription, msg *pubsub.Message, deliver deliverer) error {
	d := &delivery{comp: comp, sub: s, msg: msg, topic: topicOf(comp, s, msg)}
	ev, err := parseEvent(s, d.topic, msg)
	if err != nil {
		return e.fail(ctx, d, err)
	}
	d.ev = ev
	if ev.expired(time.Now()) {
		e.log.Warn("dropping expired event", "pubsub", s.pubsub, "topic", d.topic, "id", ev.str("id"))
		e.drop(ctx, d)
		return nil
	}
	path, ok, err := s.route(ev)
	if err != nil {
		return e.fail(ctx, d, err)
	}
	if !ok {
		e.log.Debug("no route matches the event: dropping it", "pubsub", s.pubsub, "topic", d.topic, "id", ev.str("id"))
		e.drop(ctx, d)
		return nil
	}
	d.path = path
	// The app sees the consumer span, which continues the publisher's trace.
	ctx, span := e.cfg.Tracing.StartDelivery(ctx, d.topic, ev.str(pubsub.CETraceParent), ev.str(pubsub.CETraceState))
	start := e.cfg.Metrics.Start()
	out, err := e.attempt(ctx, d, deliver)
	tracing.End(span, err)
	e.cfg.Metrics.PubsubIngress(comp.Name, d.topic, out.label(), start)
	switch out {
	case outcomeSuccess:
		return nil
	case outcomeDrop:
		e.log.Warn("event dropped by the subscriber", "pubsub", s.pubsub, "topic", d.topic, "id", ev.str("id"), "reason", err)
		e.drop(ctx, d)
		return nil
	}
	return e.fail(ctx, d, err)
}

// attempt delivers, under the resiliency policy if there is one. Retry
// must not return before its last op call has.
func (e *Engine) attempt(ctx context.Context, d *delivery, deliver deliverer) (outcome, error) {
	var out outcome
	var detail error
	op := func(ctx context.Context) error {
		var err error
		out, err = deliver(ctx, d)
		switch {
		case out == outcomeRetry && err == nil:
			return errors.New("the subscriber asked for a retry")
		case out == outcomeRetry:
			return err
		}
		detail = err
		return nil
	}
	var err error
	if e.cfg.Retry != nil {
		err = e.cfg.Retry(ctx, d.comp.Name, op)
	} else {
		err = op(ctx)
	}
	if err != nil {
		return outcomeRetry, err
	}
	return out, detail
}

// fail handles a message that was not processed: with a dead-letter topic
// it is forwarded there and acknowledged; otherwise the error goes back to
// the broker, which redelivers.
func (e *Engine) fail(ctx context.Context, d *delivery, err error) error {
	if ctx.Err() != nil || errors.Is(err, errAborted) || d.sub.deadLetter == "" {
		e.log.Warn("delivery failed", "pubsub", d.sub.pubsub, "topic", d.topic, "error", err)
		return err
	}
	if dlErr := e.deadLetter(ctx, d); dlErr != nil {
		e.log.Error("delivery failed and dead-lettering failed", "pubsub", d.sub.pubsub, "topic", d.topic, "error", err, "deadLetterError", dlErr)
		return err
	}
	e.log.Warn("delivery failed: message sent to the dead-letter topic", "pubsub", d.sub.pubsub, "topic", d.topic, "deadLetterTopic", d.sub.deadLetter, "error", err)
	return nil
}

// drop forwards an acknowledged-but-unprocessed message to the dead-letter
// topic, if any.
func (e *Engine) drop(ctx context.Context, d *delivery) {
	if d.sub.deadLetter == "" {
		return
	}
	if err := e.deadLetter(ctx, d); err != nil {
		e.log.Error("dead-lettering a dropped message failed", "pubsub", d.sub.pubsub, "topic", d.topic, "deadLetterTopic", d.sub.deadLetter, "error", err)
	}
}

// deadLetter publishes the original message, unchanged, to the dead-letter
// topic on the same pub/sub.
func (e *Engine) deadLetter(ctx context.Context, d *delivery) error {
	req := &pubsub.PublishRequest{
		Topic:       d.sub.deadLetter,
		Data:        d.msg.Data,
		ContentType: d.msg.ContentType,
		Metadata:    d.msg.Metadata,
	}
	if err := d.comp.Publish(ctx, req); err != nil {
		return fmt.Errorf("publishing to dead-letter topic %s: %w", d.sub.deadLetter, err)
	}
	return nil
}

// topicOf is the message's topic as the app knows it.
func topicOf(comp *pubsub.Component, s *subscription, msg *pubsub.Message) string {
	if msg.Topic == "" {
		return s.topic
	}
	return strings.TrimPrefix(msg.Topic, comp.NamespacePrefix)
}

// appDeliverer delivers single events to the app over its protocol.
func (e *Engine) appDeliverer() deliverer {
	if e.grpc != nil {
		return e.grpc.deliver
	}
	return e.deliverHTTP
}
