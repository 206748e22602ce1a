package redis

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/sleep"
)

const (
	// readBlock bounds one blocking XREADGROUP. go-redis cannot interrupt a
	// read in progress, so this is also how long a stopping subscription
	// may wait for its reader.
	readBlock = time.Second
	// cleanupTimeout bounds the acknowledgements and releases sent after a
	// subscription's context is cancelled.
	cleanupTimeout = 5 * time.Second
	minBackoff     = 100 * time.Millisecond
	maxBackoff     = 5 * time.Second
)

// subscription delivers one topic to one handler: a reader, a reclaimer and
// a pool of workers fed through a bounded queue.
type subscription struct {
	b       *Broker
	cfg     config
	client  goredis.UniversalClient
	log     *slog.Logger
	topic   string
	handler pubsub.Handler
	queue   chan goredis.XMessage

	mu         sync.Mutex
	inFlight   map[string]bool // queued or being handled here
	unfinished []string        // read but left unhandled when delivery stopped
}

func newSubscription(b *Broker, topic string, handler pubsub.Handler) *subscription {
	return &subscription{
		b:        b,
		cfg:      b.cfg,
		client:   b.client,
		log:      b.log.With("topic", topic, "consumerID", b.cfg.consumerID),
		topic:    topic,
		handler:  handler,
		queue:    make(chan goredis.XMessage, b.cfg.queueDepth),
		inFlight: map[string]bool{},
	}
}

// run delivers until ctx is cancelled, then waits for the handlers in
// flight and releases what was read but not handled.
func (s *subscription) run(ctx context.Context) {
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		s.read(ctx)
	}()
	var wg sync.WaitGroup
	for range s.cfg.concurrency {
		wg.Go(func() { s.work(ctx) })
	}
	if s.cfg.redelivery() {
		wg.Go(func() { s.reclaimLoop(ctx) })
	}
	wg.Wait()
	// Release right away rather than after the reader's blocking read
	// ends; then once more for what that read brought in.
	s.releaseUnfinished()
	<-readerDone
	s.releaseUnfinished()
}

// releaseUnfinished releases the messages left in the queue and those
// given up while delivery stopped.
func (s *subscription) releaseUnfinished() {
	for drained := false; !drained; {
		select {
		case m := <-s.queue:
			s.unhandled(m.ID)
		default:
			drained = true
		}
	}
	s.mu.Lock()
	ids := s.unfinished
	s.unfinished = nil
	s.mu.Unlock()
	s.release(ids)
}

// read fetches new messages for the group until ctx is cancelled.
func (s *subscription) read(ctx context.Context) {
	backoff := minBackoff
	for ctx.Err() == nil {
		streams, err := s.client.XReadGroup(ctx, &goredis.XReadGroupArgs{
			Group:    s.cfg.consumerID,
			Consumer: s.cfg.consumerID,
			Streams:  []string{s.topic, ">"},
			Count:    int64(s.cfg.queueDepth),
			Block:    readBlock,
		}).Result()
		if errors.Is(err, goredis.Nil) {
			continue // nothing new within readBlock
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.readFailed(ctx, err)
			if !sleep.For(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = minBackoff
		for _, st := range streams {
			s.enqueue(ctx, st.Messages)
		}
	}
}

// readFailed logs a read error and, when the group is gone (the stream was
// deleted, or the server lost its data), creates it again as Dapr does.
func (s *subscription) readFailed(ctx context.Context, err error) {
	if !strings.HasPrefix(err.Error(), "NOGROUP") {
		s.log.Warn("reading from stream failed", "error", err)
		return
	}
	s.log.Warn("consumer group is missing; creating it again", "error", err)
	if err := s.b.createGroup(ctx, s.topic); err != nil {
		s.log.Warn("recreating consumer group failed", "error", err)
	}
}

// enqueue hands messages to the workers. When delivery stops first, the
// rest are kept for release.
func (s *subscription) enqueue(ctx context.Context, msgs []goredis.XMessage) {
	for i, m := range msgs {
		s.mu.Lock()
		s.inFlight[m.ID] = true
		s.mu.Unlock()
		if ctx.Err() == nil {
			select {
			case s.queue <- m:
				continue
			case <-ctx.Done():
			}
		}
		for _, rest := range msgs[i:] {
			s.unhandled(rest.ID)
		}
		return
	}
}

// work runs handlers until ctx is cancelled.
func (s *subscription) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-s.queue:
			if ctx.Err() != nil {
				s.unhandled(m.ID)
				return
			}
			s.process(ctx, m)
		}
	}
}

// process calls the handler for one message: acknowledged on success; on
// failure left pending, so the reclaimer redelivers it after
// processingTimeout; released when the failure is the subscription
// stopping.
func (s *subscription) process(ctx context.Context, m goredis.XMessage) {
	hctx := ctx
	if s.cfg.redelivery() {
		// As in Dapr: past processingTimeout the message may be claimed
		// again anyway, so the handler should not run longer.
		var cancel context.CancelFunc
		hctx, cancel = context.WithTimeout(ctx, s.cfg.processingTimeout)
		defer cancel()
	}
	err := s.handler(hctx, s.message(m))
	switch {
	case err == nil:
		s.ack(ctx, m.ID)
	case ctx.Err() != nil:
		s.unhandled(m.ID)
		return
	default:
		s.log.Debug("handler failed; the message stays pending for redelivery", "id", m.ID, "error", err)
	}
	s.done(m.ID)
}

// message converts a stream entry in Dapr's layout.
func (s *subscription) message(m goredis.XMessage) *pubsub.Message {
	msg := &pubsub.Message{Topic: s.topic}
	if data, ok := m.Values[fieldData].(string); ok {
		msg.Data = []byte(data)
	}
	msg.ContentType, _ = m.Values[fieldContentType].(string)
	if md, ok := m.Values[fieldMetadata].(string); ok && md != "" {
		if err := json.Unmarshal([]byte(md), &msg.Metadata); err != nil {
			s.log.Warn("ignoring undecodable message metadata", "id", m.ID, "error", err)
			msg.Metadata = nil
		}
	}
	return msg
}

// ack acknowledges a handled message, also after the subscription stopped:
// the work is done, so it must not be delivered again.
func (s *subscription) ack(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := s.client.XAck(ctx, s.topic, s.cfg.consumerID, id).Err(); err != nil {
		s.log.Warn("acknowledging message failed; it will be redelivered", "id", id, "error", err)
	}
}

func (s *subscription) done(id string) {
	s.mu.Lock()
	delete(s.inFlight, id)
	s.mu.Unlock()
}

func (s *subscription) unhandled(id string) {
	s.mu.Lock()
	delete(s.inFlight, id)
	s.unfinished = append(s.unfinished, id)
	s.mu.Unlock()
}

// release marks messages this subscription read but did not finish as idle
// for processingTimeout, so the next reclaim scan of any consumer redelivers
// them at once. Without redelivery there is nobody to pick them up.
func (s *subscription) release(ids []string) {
	if len(ids) == 0 || !s.cfg.redelivery() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	args := []any{"XCLAIM", s.topic, s.cfg.consumerID, s.cfg.consumerID, 0}
	for _, id := range ids {
		args = append(args, id)
	}
	args = append(args, "IDLE", s.cfg.processingTimeout.Milliseconds(), "JUSTID")
	if err := s.client.Do(ctx, args...).Err(); err != nil {
		s.log.Warn("releasing unfinished messages failed; they are redelivered after processingTimeout", "count", len(ids), "error", err)
	}
}
