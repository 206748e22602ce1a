// Package kafka is the bindings.kafka binding. It runs on a pubsub.kafka
// broker, so the binding has the same metadata (brokers, authType, SASL,
// TLS, consumer tuning), partitioner and delivery: output `create`
// produces to publishTopic; input consumes the CSV list topics in the
// consumer group consumerGroup, in order per partition, and commits a
// record only after the app took it (a failing record is retried in
// place).
package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"

	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/pubsub"
	pubsubkafka "github.com/outrigger/outrigger/internal/pubsub/kafka"
)

func init() {
	bindings.Outputs.Register("bindings.kafka", func() bindings.Output { return New() })
	bindings.Inputs.Register("bindings.kafka", func() bindings.Input { return New() })
}

// Request metadata naming the record key.
const (
	metaPartitionKey = "partitionKey"
	metaKey          = "key"
)

// Binding is the Kafka input and output binding.
type Binding struct {
	log          *slog.Logger
	broker       *pubsubkafka.Broker
	topics       []string // input
	publishTopic string   // output
}

// New returns an uninitialised binding.
func New() *Binding {
	return &Binding{log: slog.Default().With("component", "bindings.kafka"), broker: pubsubkafka.New()}
}

// Init parses the metadata and connects; it fails when no broker answers.
func (b *Binding) Init(ctx context.Context, md bindings.Metadata) error {
	if v, ok := bindings.Prop(md.Properties, "topics"); ok {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				b.topics = append(b.topics, t)
			}
		}
	}
	b.publishTopic, _ = bindings.Prop(md.Properties, "publishTopic")
	b.log = b.log.With("name", md.Name)
	if err := b.broker.Init(ctx, pubsub.Metadata{Name: md.Name, Properties: md.Properties}); err != nil {
		return fmt.Errorf("kafka binding: %w", err)
	}
	return nil
}

// Operations lists the supported operations.
func (b *Binding) Operations() []string { return []string{bindings.OpCreate} }

// Invoke produces the data to publishTopic and waits for the brokers'
// acknowledgement. partitionKey (or key) becomes the record key; every
// metadata key is also sent as a record header.
func (b *Binding) Invoke(ctx context.Context, req *bindings.InvokeRequest) (*bindings.InvokeResponse, error) {
	if req.Operation != bindings.OpCreate {
		return nil, fmt.Errorf("kafka binding: invalid operation type: %s", req.Operation)
	}
	if b.publishTopic == "" {
		return nil, errors.New("kafka binding: publishTopic is not set")
	}
	md := maps.Clone(req.Metadata)
	if k, ok := md[metaKey]; ok && md[metaPartitionKey] == "" {
		delete(md, metaKey)
		md[metaPartitionKey] = k
	}
	if err := b.broker.Publish(ctx, &pubsub.PublishRequest{Topic: b.publishTopic, Data: req.Data, Metadata: md}); err != nil {
		return nil, fmt.Errorf("kafka binding: %w", err)
	}
	return nil, nil
}

// Read joins the consumer group for every topic and delivers records
// until ctx ends; it returns once the group has assigned partitions. It
// may be called again after an earlier ctx ended: consuming resumes from
// the committed offsets. Event metadata are the record headers plus
// __key, __topic, __partition, __offset and __timestamp.
func (b *Binding) Read(ctx context.Context, handler bindings.EventHandler) error {
	if len(b.topics) == 0 {
		// As in Dapr: a component used only for output has no topics.
		b.log.Warn("no topics set: the input binding reads nothing")
		return nil
	}
	// readCtx stops the topics already subscribed when a later one fails;
	// otherwise the subscriptions end with ctx.
	readCtx, cancel := context.WithCancel(ctx)
	deliver := func(ctx context.Context, msg *pubsub.Message) error {
		_, err := handler(ctx, &bindings.Event{Data: msg.Data, Metadata: msg.Metadata, ContentType: msg.ContentType})
		return err
	}
	for _, topic := range b.topics {
		if err := b.broker.Subscribe(readCtx, pubsub.SubscribeRequest{Topic: topic}, deliver); err != nil {
			cancel()
			return fmt.Errorf("kafka binding: %w", err)
		}
	}
	_ = cancel // released with ctx
	return nil
}

// Close stops reading (committing what the app took) and closes the
// producer.
func (b *Binding) Close() error {
	return b.broker.Close()
}
