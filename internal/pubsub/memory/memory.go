// Package memory is pubsub.in-memory: a broker inside one sidecar, with no
// persistence, for development and tests.
//
// Each subscription belongs to a consumer group (its consumerID metadata,
// else the component's consumerID): subscriptions of one group on one
// topic share the messages, different groups each get every message.
// Topics may use MQTT wildcards (SUBSCRIBE_WILDCARDS). A message whose
// handler fails is redelivered after a short backoff, to any member of the
// group. A subscription calls its handler from up to `concurrency` (metadata,
// default 100) workers, started on demand, so a bulk subscriber can fill
// its batches; messages with the same partitionKey are delivered one at a
// time in publish order (concurrency 1 orders the whole topic).
package memory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"

	"github.com/outrigger/outrigger/internal/pubsub"
)

func init() {
	pubsub.Registry.Register("pubsub.in-memory", func() pubsub.Broker { return New() })
}

// defaultConcurrency is the number of handler calls one subscription may
// have in flight: enough for a bulk subscriber to fill its batches.
const defaultConcurrency = 100

// errClosed is returned by calls after Close.
var errClosed = errors.New("pubsub.in-memory: broker closed")

// Broker is the in-memory broker.
type Broker struct {
	log         *slog.Logger
	consumerID  string
	concurrency int

	ctx    context.Context // cancelled by Close; parent of every subscription
	cancel context.CancelFunc
	wg     sync.WaitGroup // subscription workers

	mu     sync.RWMutex
	closed bool
	exact  map[string]map[string]*group // topic -> group name -> group
	wild   map[string]map[string]*group // wildcard pattern -> group name -> group
}

// New returns an uninitialised broker.
func New() *Broker {
	ctx, cancel := context.WithCancel(context.Background())
	return &Broker{
		log:         slog.Default().With("component", "pubsub.in-memory"),
		concurrency: defaultConcurrency,
		ctx:         ctx,
		cancel:      cancel,
		exact:       map[string]map[string]*group{},
		wild:        map[string]map[string]*group{},
	}
}

// Init reads the optional consumerID and concurrency metadata.
func (b *Broker) Init(_ context.Context, md pubsub.Metadata) error {
	if md.Name != "" {
		b.log = b.log.With("name", md.Name)
	}
	b.consumerID = prop(md.Properties, pubsub.MetaConsumerID)
	if v := prop(md.Properties, "concurrency"); v != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 {
			return fmt.Errorf("pubsub.in-memory: invalid value for 'concurrency': %q is not a positive integer", v)
		}
		b.concurrency = n
	}
	return nil
}

// Features lists the broker's capabilities, as Dapr's in-memory broker
// reports them.
func (b *Broker) Features() []pubsub.Feature {
	return []pubsub.Feature{pubsub.FeatureSubscribeWildcards}
}

// Publish hands the message to every group subscribed to its topic. With
// no subscriber the message is dropped, as there is nowhere to keep it.
func (b *Broker) Publish(_ context.Context, req *pubsub.PublishRequest) error {
	if req.Topic == "" {
		return errors.New("pubsub.in-memory: publish: empty topic")
	}
	// Copy: the caller may reuse its buffers after we return.
	msg := &stored{
		topic:       req.Topic,
		data:        bytes.Clone(req.Data),
		contentType: req.ContentType,
		metadata:    maps.Clone(req.Metadata),
		key:         req.Metadata[pubsub.MetaPartitionKey],
	}
	groups, err := b.groupsFor(req.Topic)
	if err != nil {
		return err
	}
	for _, g := range groups {
		g.push(&delivery{msg: msg}, false)
	}
	return nil
}

// BulkPublish queues every entry as Publish queues one. Publishing the
// entries one by one instead (pubsub.Component.BulkPublish's fallback)
// spends a goroutine on each, which costs more than queueing it. The
// broker still does not list BULK_PUBSUB, as Dapr's in-memory broker
// does not.
func (b *Broker) BulkPublish(_ context.Context, req *pubsub.BulkPublishRequest) ([]pubsub.BulkPublishFailure, error) {
	if req.Topic == "" {
		return nil, errors.New("pubsub.in-memory: bulk publish: empty topic")
	}
	groups, err := b.groupsFor(req.Topic)
	if err != nil {
		return nil, err
	}
	batch := make([]*delivery, len(req.Entries))
	for i, e := range req.Entries {
		batch[i] = &delivery{msg: &stored{
			topic:       req.Topic,
			data:        bytes.Clone(e.Data),
			contentType: e.ContentType,
			metadata:    maps.Clone(e.Metadata),
			key:         e.Metadata[pubsub.MetaPartitionKey],
		}}
	}
	for i, g := range groups {
		if i > 0 {
			// Each group tracks its own attempts.
			for j, d := range batch {
				batch[j] = &delivery{msg: d.msg}
			}
		}
		g.pushAll(batch)
	}
	return nil, nil
}

// groupsFor returns the groups whose pattern matches topic.
func (b *Broker) groupsFor(topic string) ([]*group, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return nil, errClosed
	}
	var out []*group
	for _, g := range b.exact[topic] {
		out = append(out, g)
	}
	for pattern, byName := range b.wild {
		if matchTopic(pattern, topic) {
			for _, g := range byName {
				out = append(out, g)
			}
		}
	}
	return out, nil
}

// Close stops every subscription, waits for handlers in flight and drops
// all queued messages.
func (b *Broker) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.cancel()
	b.wg.Wait()
	return nil
}

// prop looks a metadata key up case-insensitively.
func prop(props map[string]string, name string) string {
	if v, ok := props[name]; ok {
		return v
	}
	for k, v := range props {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
