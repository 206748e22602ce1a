package kafka

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/outrigger/outrigger/internal/pubsub"
)

// Metadata keys on publish. partitionKey (or __key) becomes the record
// key; partitionNumber picks the partition; every key, partitionKey
// included, is also sent as a record header, as Dapr does.
const (
	metaKey             = "__key"
	metaPartitionNumber = "partitionNumber"
	// headerContentType carries the publisher's content type, which Kafka
	// records have no field for.
	headerContentType = "__contentType"
)

// Publish produces one record and waits for the brokers to acknowledge it.
func (b *Broker) Publish(ctx context.Context, req *pubsub.PublishRequest) error {
	if err := b.checkOpen(req.Topic); err != nil {
		return err
	}
	rec, err := record(ctx, req.Topic, req.Data, req.ContentType, req.Metadata)
	if err != nil {
		return err
	}
	if err := b.producer.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return publishError(req.Topic, err)
	}
	return nil
}

// publishError wraps err, marking a topic the cluster does not have (and
// will not create) as pubsub.ErrNotFound.
func publishError(topic string, err error) error {
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return fmt.Errorf("kafka: publish to %q: %w: %w", topic, pubsub.ErrNotFound, err)
	}
	return fmt.Errorf("kafka: publish to %q: %w", topic, err)
}

// BulkPublish produces all entries at once. Request metadata applies to
// every entry and wins over an entry's own, as in Dapr. Entries the
// brokers reject are returned as failures; err is for the call as a whole.
func (b *Broker) BulkPublish(ctx context.Context, req *pubsub.BulkPublishRequest) ([]pubsub.BulkPublishFailure, error) {
	if err := b.checkOpen(req.Topic); err != nil {
		return nil, err
	}
	errs := make([]error, len(req.Entries))
	var recs []*kgo.Record
	index := map[*kgo.Record]int{}
	for i, e := range req.Entries {
		md := maps.Clone(e.Metadata)
		if md == nil {
			md = map[string]string{}
		}
		maps.Copy(md, req.Metadata)
		rec, err := record(ctx, req.Topic, e.Data, e.ContentType, md)
		if err != nil {
			errs[i] = err
			continue
		}
		recs = append(recs, rec)
		index[rec] = i
	}
	for _, res := range b.producer.ProduceSync(ctx, recs...) {
		if res.Err != nil {
			errs[index[res.Record]] = publishError(req.Topic, res.Err)
		}
	}
	var failures []pubsub.BulkPublishFailure
	for i, err := range errs {
		if err != nil {
			failures = append(failures, pubsub.BulkPublishFailure{EntryID: req.Entries[i].EntryID, Error: err})
		}
	}
	return failures, nil
}

func (b *Broker) checkOpen(topic string) error {
	if b.isClosed() || b.producer == nil {
		return errClosed
	}
	if topic == "" {
		return errors.New("kafka: publish: topic is required")
	}
	return nil
}

// record builds the Kafka record for one message.
func record(ctx context.Context, topic string, data []byte, contentType string, md map[string]string) (*kgo.Record, error) {
	rec := &kgo.Record{Topic: topic, Value: data, Context: ctx}
	for k, v := range md {
		switch k {
		case pubsub.MetaPartitionKey, metaKey:
			rec.Key = []byte(v)
		case metaPartitionNumber:
			p, err := strconv.ParseInt(v, 10, 32)
			if err != nil || p < 0 {
				return nil, fmt.Errorf("kafka: invalid partitionNumber %q: want a partition index", v)
			}
			rec.Context = context.WithValue(ctx, partitionNumberKey{}, int(p))
			continue // not a header
		}
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	if contentType != "" {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: headerContentType, Value: []byte(contentType)})
	}
	return rec, nil
}

// partitionNumberKey marks, in a record's context, a partition chosen by
// the publisher.
type partitionNumberKey struct{}

// partitioner sends a record to its explicit partitionNumber if it has
// one, and otherwise hashes the key like Sarama's default partitioner
// (FNV-1a), so Dapr and Outrigger publishers put a key on the same
// partition. Records without key stick to a partition per batch.
type partitioner struct{ hash kgo.Partitioner }

func newPartitioner() kgo.Partitioner {
	return partitioner{hash: kgo.StickyKeyPartitioner(kgo.SaramaCompatHasher(fnv32a))}
}

func fnv32a(b []byte) uint32 {
	h := fnv.New32a()
	h.Write(b)
	return h.Sum32()
}

func (p partitioner) ForTopic(topic string) kgo.TopicPartitioner {
	return topicPartitioner{hash: p.hash.ForTopic(topic)}
}

type topicPartitioner struct{ hash kgo.TopicPartitioner }

func explicitPartition(r *kgo.Record) (int, bool) {
	if r.Context == nil {
		return 0, false
	}
	p, ok := r.Context.Value(partitionNumberKey{}).(int)
	return p, ok
}

// RequiresConsistency keeps explicit partitions exact: the partition list
// is then indexed by partition number.
func (t topicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	if _, ok := explicitPartition(r); ok {
		return true
	}
	return t.hash.RequiresConsistency(r)
}

// Partition returns the explicit partition (out of range is rejected by
// the client), else the hashed one.
func (t topicPartitioner) Partition(r *kgo.Record, n int) int {
	if p, ok := explicitPartition(r); ok {
		if p >= n {
			return -1
		}
		return p
	}
	return t.hash.Partition(r, n)
}

// OnNewBatch lets the sticky partitioner move keyless records on.
func (t topicPartitioner) OnNewBatch() {
	if nb, ok := t.hash.(kgo.TopicPartitionerOnNewBatch); ok {
		nb.OnNewBatch()
	}
}
