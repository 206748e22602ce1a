package kafka

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/sleep"
)

const (
	// joinTimeout bounds how long Subscribe waits for its first partition
	// assignment from the consumer group.
	joinTimeout = time.Minute
	// revokeGrace is how long a handler may run on after its partition is
	// revoked by a rebalance before its context is cancelled.
	revokeGrace = 5 * time.Second
	// commitTimeout bounds the final commits on revoke and stop.
	commitTimeout = 10 * time.Second
	// pollRecords bounds one poll.
	pollRecords = 1000
)

// subscription is one consumer group member consuming one topic.
type subscription struct {
	b       *Broker
	topic   string
	handler pubsub.Handler
	ctx     context.Context // cancelled when the subscription stops
	cl      *kgo.Client

	joined     chan struct{} // closed on the first assignment
	joinedOnce sync.Once

	mu      sync.Mutex
	workers map[int32]*worker
}

// Subscribe joins the consumer group for the topic and returns once the
// group assigned this member its partitions, so that what is published
// afterwards is delivered.
func (b *Broker) Subscribe(ctx context.Context, req pubsub.SubscribeRequest, handler pubsub.Handler) error {
	if b.isClosed() {
		return errClosed
	}
	if req.Topic == "" {
		return errors.New("kafka: subscribe: topic is required")
	}
	if b.cfg.group == "" {
		return errors.New("kafka: subscribe: consumerGroup (or consumerID) is required")
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(b.ctx, cancel) // Close stops every subscription
	s := &subscription{b: b, topic: req.Topic, handler: handler, ctx: ctx, joined: make(chan struct{}), workers: map[int32]*worker{}}
	cl, err := kgo.NewClient(append(b.commonOpts(), s.consumerOpts()...)...)
	if err != nil {
		stop()
		cancel()
		return fmt.Errorf("kafka: subscribe to %q: %w", req.Topic, err)
	}
	s.cl = cl

	done := make(chan struct{})
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer close(done)
		defer stop()
		defer cancel()
		s.run()
	}()

	timer := time.NewTimer(joinTimeout)
	defer timer.Stop()
	select {
	case <-s.joined:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-timer.C:
		err = fmt.Errorf("no partition assignment from consumer group %q within %s", b.cfg.group, joinTimeout)
	}
	cancel()
	<-done
	return fmt.Errorf("kafka: subscribe to %q: %w", req.Topic, err)
}

func (s *subscription) consumerOpts() []kgo.Opt {
	cfg := s.b.cfg
	reset := kgo.NewOffset().AtEnd()
	if cfg.oldest {
		reset = kgo.NewOffset().AtStart()
	}
	return []kgo.Opt{
		kgo.ConsumerGroup(cfg.group),
		kgo.ConsumeTopics(s.topic),
		kgo.ConsumeResetOffset(reset),
		kgo.Balancers(cfg.balancers...),
		kgo.SessionTimeout(cfg.sessionTimeout),
		kgo.HeartbeatInterval(cfg.heartbeat),
		// Only offsets of handled records are committed.
		kgo.AutoCommitMarks(),
		// Rebalances happen between polls, never while one is dispatched.
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(s.assigned),
		kgo.OnPartitionsRevoked(s.revoked),
		kgo.OnPartitionsLost(s.lost),
	}
}

// run polls and dispatches records to the partition workers until the
// subscription stops, then stops the workers, commits and leaves the group.
func (s *subscription) run() {
	defer s.shutdown()
	for {
		fetches := s.cl.PollRecords(s.ctx, pollRecords)
		if s.ctx.Err() != nil || fetches.IsClientClosed() {
			s.cl.AllowRebalance()
			return
		}
		failed := false
		fetches.EachError(func(topic string, partition int32, err error) {
			failed = true
			s.b.log.Warn("fetch failed", "topic", topic, "partition", partition, "error", err)
		})
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) > 0 {
				s.worker(p.Partition).push(p.Records)
			}
		})
		s.cl.AllowRebalance()
		if failed && fetches.NumRecords() == 0 {
			sleep.For(s.ctx, s.b.cfg.retryInterval) // don't spin on a persistent error
		}
	}
}

// worker returns the partition's worker, starting it on first use.
func (s *subscription) worker(partition int32) *worker {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.workers[partition]
	if w == nil {
		w = newWorker(s, partition)
		s.workers[partition] = w
	}
	return w
}

// stopWorkers stops the workers of the given partitions (all when nil)
// in parallel and waits for them.
func (s *subscription) stopWorkers(partitions []int32, grace time.Duration) {
	s.mu.Lock()
	var stopping []*worker
	for p, w := range s.workers {
		if partitions == nil || contains(partitions, p) {
			stopping = append(stopping, w)
			delete(s.workers, p)
		}
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, w := range stopping {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.stop(grace)
		}()
	}
	wg.Wait()
}

func contains(ps []int32, p int32) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}

// commit synchronously commits the offsets of handled records.
func (s *subscription) commit() {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	if err := s.cl.CommitMarkedOffsets(ctx); err != nil {
		s.b.log.Warn("commit failed; handled messages may be delivered again", "topic", s.topic, "error", err)
	}
}

func (s *subscription) shutdown() {
	s.stopWorkers(nil, 0)
	s.commit()
	s.cl.CloseAllowingRebalance()
}

// assigned pins start offsets for newest and reports the first join.
func (s *subscription) assigned(ctx context.Context, cl *kgo.Client, parts map[string][]int32) {
	defer s.joinedOnce.Do(func() { close(s.joined) })
	ps := parts[s.topic]
	if s.b.cfg.oldest || len(ps) == 0 {
		return
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	ctx, cancel := context.WithTimeout(ctx, commitTimeout)
	defer cancel()
	if err := pinStart(ctx, cl, s.b.cfg.group, s.topic, ps); err != nil {
		s.b.log.Warn("could not pin the start offsets of newly assigned partitions", "topic", s.topic, "partitions", ps, "error", err)
	}
}

// revoked lets the revoked partitions' handlers finish (for revokeGrace)
// and commits what was handled before another member takes over.
func (s *subscription) revoked(_ context.Context, _ *kgo.Client, parts map[string][]int32) {
	if ps := parts[s.topic]; len(ps) > 0 {
		s.stopWorkers(ps, revokeGrace)
	}
	s.commit()
}

// lost stops the lost partitions' handlers at once: the group moved on
// and commits would be rejected.
func (s *subscription) lost(_ context.Context, _ *kgo.Client, parts map[string][]int32) {
	if ps := parts[s.topic]; len(ps) > 0 {
		s.stopWorkers(ps, 0)
	}
}
