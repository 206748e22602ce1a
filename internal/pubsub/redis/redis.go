// Package redis is the pubsub.redis broker: Redis Streams with consumer
// groups, in the layout Dapr's pubsub.redis uses, so a Dapr sidecar and an
// Outrigger sidecar can publish to and consume from the same streams.
//
// Layout and protocol, as in Dapr:
//   - a topic is a stream of the same name; each message is one entry with
//     the field "data" (the payload, byte-exact) and, when the publisher
//     sent metadata, the field "metadata" (a JSON object of strings);
//   - consumerID names the consumer group, created with MKSTREAM from id 0
//     (a new group also reads what the stream already holds), and is also
//     the consumer name inside the group, so every sidecar of an app shares
//     one consumer and its pending list;
//   - new messages are read with XREADGROUP ... COUNT queueDepth, handled by
//     concurrency workers per subscription, and acknowledged with XACK when
//     the handler succeeds; a failed message stays pending, and every
//     redeliverInterval the pending list is scanned (XPENDING) and messages
//     pending longer than processingTimeout are claimed (XCLAIM) and handled
//     again. That also recovers messages of a crashed sidecar;
//   - XADD trims with MAXLEN ~ maxLenApprox, or else MINID ~ now-streamTTL.
//
// Differences from Dapr, on purpose:
//   - a message's content type, when the publisher gave one, is kept in a
//     third field, "contentType" (Dapr keeps none; its consumers ignore the
//     extra field, and messages from Dapr arrive without a content type);
//   - concurrency and queueDepth apply per subscription (Dapr shares one
//     worker pool among all topics of a component), so a slow topic cannot
//     starve the others;
//   - the pending list is scanned in full, page by page (Dapr only looks at
//     the oldest queueDepth entries, so newer stale ones can wait forever);
//   - a message queued or being handled in this process is not claimed again
//     by this process's own scan;
//   - when a subscription stops, the messages it read but did not finish are
//     marked idle for processingTimeout (XCLAIM ... IDLE), so the next scan,
//     here or in another sidecar, redelivers them at once instead of after
//     processingTimeout.
package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/redisconf"
)

// Stream entry fields, as Dapr writes them.
const (
	fieldData     = "data"
	fieldMetadata = "metadata"
	// fieldContentType is ours; Dapr neither writes nor reads it.
	fieldContentType = "contentType"
)

// Broker is the Redis Streams broker.
type Broker struct {
	log    *slog.Logger
	cfg    config
	client goredis.UniversalClient

	// ctx lives from Init to Close; every subscription stops with it.
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool
	subs   sync.WaitGroup // running subscriptions
}

// New returns an uninitialised Redis Streams broker.
func New() pubsub.Broker {
	return &Broker{log: slog.Default().With("component", "pubsub.redis")}
}

// Init parses the metadata, connects and pings the server.
func (b *Broker) Init(ctx context.Context, md pubsub.Metadata) error {
	cfg, err := parseConfig(md.Properties)
	if err != nil {
		return fmt.Errorf("pubsub.redis: %w", err)
	}
	opts, err := cfg.Options()
	if err != nil {
		return fmt.Errorf("pubsub.redis: %w", err)
	}
	// The name shows up in CLIENT LIST, so operators can tell which
	// component a connection belongs to.
	opts.ClientName = redisconf.ClientName("outrigger-pubsub", md.Name)
	if cfg.maxLenApprox > 0 && cfg.streamTTL > 0 {
		// XADD takes one trimming strategy; Dapr also keeps MAXLEN.
		b.log.Warn("metadata maxLenApprox and streamTTL are both set; streams are trimmed by maxLenApprox only")
	}
	client := goredis.NewUniversalClient(opts)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return fmt.Errorf("pubsub.redis: error connecting to redis at %s: %w", cfg.Host, err)
	}
	b.cfg = cfg
	b.client = client
	b.ctx, b.cancel = context.WithCancel(context.Background())
	return nil
}

// Features lists the capabilities: none, as in Dapr (the sidecar handles
// message TTLs and publishes bulk requests one by one).
func (b *Broker) Features() []pubsub.Feature { return nil }

// Publish appends the message to the topic's stream.
func (b *Broker) Publish(ctx context.Context, req *pubsub.PublishRequest) error {
	if err := b.usable(); err != nil {
		return err
	}
	values := []any{fieldData, req.Data}
	if len(req.Metadata) > 0 {
		md, err := json.Marshal(req.Metadata)
		if err != nil {
			return fmt.Errorf("pubsub.redis: encoding metadata: %w", err)
		}
		values = append(values, fieldMetadata, md)
	}
	if req.ContentType != "" {
		values = append(values, fieldContentType, req.ContentType)
	}
	args := &goredis.XAddArgs{Stream: req.Topic, Values: values}
	b.trim(args, time.Now())
	if err := b.client.XAdd(ctx, args).Err(); err != nil {
		return fmt.Errorf("pubsub.redis: publishing to %s: %w", req.Topic, err)
	}
	return nil
}

// trim sets the stream trimming of one XADD. Approximate trimming lets Redis
// drop whole nodes only, which keeps XADD cheap.
func (b *Broker) trim(args *goredis.XAddArgs, now time.Time) {
	switch {
	case b.cfg.maxLenApprox > 0:
		args.MaxLen, args.Approx = b.cfg.maxLenApprox, true
	case b.cfg.streamTTL > 0:
		// Entry ids start with their creation time in milliseconds.
		args.MinID, args.Approx = strconv.FormatInt(now.Add(-b.cfg.streamTTL).UnixMilli(), 10), true
	}
}

// Subscribe creates the consumer group if needed and starts delivering.
func (b *Broker) Subscribe(ctx context.Context, req pubsub.SubscribeRequest, handler pubsub.Handler) error {
	if err := b.register(); err != nil {
		return err
	}
	if err := b.createGroup(ctx, req.Topic); err != nil {
		b.subs.Done()
		return err
	}
	subCtx, cancel := context.WithCancel(ctx)
	stopWithBroker := context.AfterFunc(b.ctx, cancel)
	s := newSubscription(b, req.Topic, handler)
	go func() {
		defer b.subs.Done()
		defer cancel()
		defer stopWithBroker()
		s.run(subCtx)
	}()
	return nil
}

// register counts a new subscription, unless the broker is closed; under
// the lock so Close never waits while one is being added.
func (b *Broker) register() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usableLocked(); err != nil {
		return err
	}
	b.subs.Add(1)
	return nil
}

// createGroup makes the consumer group (and the stream) unless it exists.
// It starts at id 0, as Dapr's does, so a new group also receives what the
// stream already holds.
func (b *Broker) createGroup(ctx context.Context, topic string) error {
	err := b.client.XGroupCreateMkStream(ctx, topic, b.cfg.consumerID, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("pubsub.redis: creating consumer group %s on %s: %w", b.cfg.consumerID, topic, err)
	}
	return nil
}

func (b *Broker) usable() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.usableLocked()
}

func (b *Broker) usableLocked() error {
	switch {
	case b.closed:
		return errors.New("pubsub.redis: broker is closed")
	case b.client == nil:
		return errors.New("pubsub.redis: broker is not initialised")
	}
	return nil
}

// Close stops every subscription, waits for the messages in flight, and
// closes the connections.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	if b.client == nil {
		return nil
	}
	b.cancel()
	b.subs.Wait()
	if err := b.client.Close(); err != nil {
		return fmt.Errorf("pubsub.redis: closing: %w", err)
	}
	return nil
}
