package kafka

import (
	"context"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/outrigger/outrigger/internal/pubsub"
)

// maxRetryBackoff caps the wait between attempts at a failing message.
const maxRetryBackoff = 5 * time.Second

// worker hands one partition's records to the handler in order. A failed
// record is retried in place, blocking the partition, until it succeeds or
// the worker stops: skipping it would commit past it and lose it. The poll
// loop never blocks on a worker: records queue here, and fetching the
// partition pauses while the queue is full.
type worker struct {
	s         *subscription
	partition int32
	ctx       context.Context // the handlers'; cancelled to abort them
	cancel    context.CancelFunc
	stopping  chan struct{} // closed: take no further record
	done      chan struct{} // closed when run returns
	wake      chan struct{} // capacity 1: records were queued

	mu     sync.Mutex
	queue  []*kgo.Record
	paused bool
}

func newWorker(s *subscription, partition int32) *worker {
	ctx, cancel := context.WithCancel(s.ctx)
	w := &worker{
		s: s, partition: partition, ctx: ctx, cancel: cancel,
		stopping: make(chan struct{}), done: make(chan struct{}), wake: make(chan struct{}, 1),
	}
	go w.run()
	return w
}

// push queues records from a poll; it never blocks.
func (w *worker) push(recs []*kgo.Record) {
	w.mu.Lock()
	w.queue = append(w.queue, recs...)
	if !w.paused && len(w.queue) >= w.s.b.cfg.queueSize {
		w.paused = true
		w.s.cl.PauseFetchPartitions(w.topicPartition())
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// stop makes the worker finish its current record and exit. The handler
// gets grace to finish before its context is cancelled.
func (w *worker) stop(grace time.Duration) {
	close(w.stopping)
	t := time.AfterFunc(grace, w.cancel)
	<-w.done
	t.Stop()
	w.cancel()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.paused {
		// Pauses outlive assignments: lift it for whoever consumes next.
		w.paused = false
		w.s.cl.ResumeFetchPartitions(w.topicPartition())
	}
}

func (w *worker) topicPartition() map[string][]int32 {
	return map[string][]int32{w.s.topic: {w.partition}}
}

func (w *worker) run() {
	defer close(w.done)
	for {
		rec, ok := w.next()
		if !ok || !w.process(rec) {
			return
		}
		// Committed by the periodic auto-commit, on revoke and on stop.
		w.s.cl.MarkCommitRecords(rec)
	}
}

// next waits for the next record; false when the worker stops.
func (w *worker) next() (*kgo.Record, bool) {
	for {
		if w.stopped() {
			return nil, false
		}
		w.mu.Lock()
		if len(w.queue) > 0 {
			rec := w.queue[0]
			w.queue[0] = nil
			w.queue = w.queue[1:]
			if w.paused && len(w.queue) <= w.s.b.cfg.queueSize/2 {
				w.paused = false
				w.s.cl.ResumeFetchPartitions(w.topicPartition())
			}
			w.mu.Unlock()
			return rec, true
		}
		w.mu.Unlock()
		select {
		case <-w.wake:
		case <-w.stopping:
		case <-w.ctx.Done():
		}
	}
}

func (w *worker) stopped() bool {
	select {
	case <-w.stopping:
		return true
	case <-w.ctx.Done():
		return true
	default:
		return false
	}
}

// process delivers rec until the handler succeeds (true) or the worker
// stops first (false: rec stays uncommitted and is delivered again).
func (w *worker) process(rec *kgo.Record) bool {
	msg := w.s.message(rec)
	backoff := w.s.b.cfg.retryInterval
	for attempt := 1; ; attempt++ {
		if w.stopped() {
			return false
		}
		err := w.s.handler(w.ctx, msg)
		if err == nil {
			return true
		}
		if w.ctx.Err() != nil {
			return false
		}
		w.s.b.log.Warn("handler failed; retrying in place", "topic", rec.Topic, "partition", rec.Partition,
			"offset", rec.Offset, "attempt", attempt, "retryIn", backoff, "error", err)
		select {
		case <-time.After(backoff):
		case <-w.stopping:
			return false
		case <-w.ctx.Done():
			return false
		}
		backoff = min(2*backoff, max(maxRetryBackoff, w.s.b.cfg.retryInterval))
	}
}

// message converts a record as Dapr does: headers become metadata, plus
// __key, __topic, __partition, __offset and __timestamp (Unix ms).
func (s *subscription) message(rec *kgo.Record) *pubsub.Message {
	md := make(map[string]string, len(rec.Headers)+5)
	esc := func(v string) string {
		if s.b.cfg.escapeHeaders {
			return url.QueryEscape(v)
		}
		return v
	}
	var contentType string
	for _, h := range rec.Headers {
		if h.Key == headerContentType {
			contentType = string(h.Value)
			continue
		}
		if s.b.cfg.excludeHeaders != nil && s.b.cfg.excludeHeaders.MatchString(h.Key) {
			continue
		}
		md[h.Key] = esc(string(h.Value))
	}
	if rec.Key != nil {
		md[metaKey] = esc(string(rec.Key))
	}
	md["__topic"] = rec.Topic
	md["__partition"] = strconv.FormatInt(int64(rec.Partition), 10)
	md["__offset"] = strconv.FormatInt(rec.Offset, 10)
	md["__timestamp"] = strconv.FormatInt(rec.Timestamp.UnixMilli(), 10)
	return &pubsub.Message{Topic: rec.Topic, Data: rec.Value, ContentType: contentType, Metadata: md}
}
