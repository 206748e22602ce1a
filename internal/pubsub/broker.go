// Package pubsub is the publish/subscribe building block: the broker
// contract every pub/sub component implements, Dapr's CloudEvents envelope,
// topic scoping, and (in subpackages) the brokers and the delivery engine
// that routes messages to the app.
package pubsub

import (
	"context"
	"errors"

	"github.com/outrigger/outrigger/internal/registry"
)

// Registry holds the broker constructors linked into the binary.
var Registry = registry.New[Broker]("pubsub")

// Feature is a capability name advertised in the metadata API.
type Feature string

const (
	// FeatureMessageTTL: the broker expires messages itself (ttlInSeconds);
	// otherwise the sidecar adds an `expiration` to the envelope.
	FeatureMessageTTL Feature = "MESSAGE_TTL"
	// FeatureSubscribeWildcards: topics in subscriptions may use wildcards.
	FeatureSubscribeWildcards Feature = "SUBSCRIBE_WILDCARDS"
	// FeatureBulkPublish: the broker implements BulkPublisher natively.
	FeatureBulkPublish Feature = "BULK_PUBSUB"
)

// Well-known metadata keys.
const (
	// MetaTTLInSeconds on a publish asks for a message TTL.
	MetaTTLInSeconds = "ttlInSeconds"
	// MetaConsumerID names the consumer group; the sidecar defaults it to
	// the app id before Init.
	MetaConsumerID = "consumerID"
	// MetaPartitionKey orders messages per key where the broker can.
	MetaPartitionKey = "partitionKey"
)

// Metadata initialises a broker: the component name and its spec.metadata
// as strings (consumerID already defaulted to the app id).
type Metadata struct {
	Name       string
	Properties map[string]string
}

// PublishRequest is one message to publish. Data is sent byte-exact.
type PublishRequest struct {
	Topic       string
	Data        []byte
	ContentType string
	Metadata    map[string]string
}

// Message is one delivered message. Metadata carries broker metadata (and,
// for brokers that keep them, the publisher's metadata); it becomes HTTP
// headers for the app.
type Message struct {
	Topic       string
	Data        []byte
	ContentType string
	Metadata    map[string]string
}

// Handler processes one message. Returning nil acknowledges it; an error
// makes the broker redeliver it later (at-least-once). The handler must
// honour ctx: it is cancelled when the subscription stops.
type Handler func(ctx context.Context, msg *Message) error

// SubscribeRequest names the topic and carries per-subscription metadata.
type SubscribeRequest struct {
	Topic    string
	Metadata map[string]string
}

// Broker is the minimal pub/sub component. Implementations are safe for
// concurrent use.
type Broker interface {
	Init(ctx context.Context, md Metadata) error
	Features() []Feature
	Publish(ctx context.Context, req *PublishRequest) error
	// Subscribe starts delivering the topic's messages to handler and
	// returns once the subscription is established (messages published
	// after it returns are delivered). Delivery stops when ctx is
	// cancelled; Subscribe's goroutines must then finish the messages in
	// flight (without acknowledging cancelled ones) and exit.
	Subscribe(ctx context.Context, req SubscribeRequest, handler Handler) error
	// Close stops every subscription and releases connections.
	Close() error
}

// BulkPublishEntry is one entry of a bulk publish.
type BulkPublishEntry struct {
	EntryID     string
	Data        []byte
	ContentType string
	Metadata    map[string]string
}

// BulkPublishRequest publishes many messages to one topic.
type BulkPublishRequest struct {
	Topic    string
	Entries  []BulkPublishEntry
	Metadata map[string]string
}

// BulkPublishFailure reports one entry that was not published.
type BulkPublishFailure struct {
	EntryID string
	Error   error
}

// BulkPublisher brokers publish many messages in one round trip
// (FeatureBulkPublish). The failures list the entries not published.
type BulkPublisher interface {
	BulkPublish(ctx context.Context, req *BulkPublishRequest) ([]BulkPublishFailure, error)
}

// ErrNotFound is returned (wrapped) by Publish when the broker reports that
// the topic or pub/sub does not exist; the API maps it to Dapr's
// ERR_PUBSUB_NOT_FOUND.
var ErrNotFound = errors.New("pubsub: not found")

// HasFeature reports whether f is among fs.
func HasFeature(fs []Feature, f Feature) bool {
	for _, x := range fs {
		if x == f {
			return true
		}
	}
	return false
}
