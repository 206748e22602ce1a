package outbox

import (
	"fmt"
	"strings"

	"github.com/outrigger/outrigger/internal/state"
)

// Component metadata keys of a state store that enable the outbox.
const (
	MetaPublishPubSub   = "outboxPublishPubsub"
	MetaPublishTopic    = "outboxPublishTopic"
	MetaPubSub          = "outboxPubsub"
	MetaInternalTopic   = "outboxInternalTopic"
	MetaDiscardNoState  = "outboxDiscardWhenMissingState"
	metaProjection      = "outbox.projection"
	metaCloudEvent      = "outbox.cloudevent."
	internalTopicSuffix = "outbox"
)

// StoreConfig is one state store's outbox settings, read from its component
// metadata.
type StoreConfig struct {
	Store string
	// PublishPubSub and PublishTopic receive the committed upserts.
	PublishPubSub string
	PublishTopic  string
	// InternalPubSub carries the internal outbox messages (outboxPubsub;
	// defaults to PublishPubSub).
	InternalPubSub string
	// InternalTopic, when set (outboxInternalTopic), is the internal topic's
	// full name; otherwise it is derived from the app id and PublishTopic.
	InternalTopic string
	// DiscardWhenMissingState drops a message whose transaction marker is
	// not found instead of waiting for it.
	DiscardWhenMissingState bool
}

// ParseStoreConfig reads the outbox keys of a state store's metadata. ok is
// false when the store does not enable the outbox. Setting only one of
// outboxPublishPubsub and outboxPublishTopic is an error: both are required.
func ParseStoreConfig(store string, props map[string]string) (cfg StoreConfig, ok bool, err error) {
	cfg = StoreConfig{
		Store:                   store,
		PublishPubSub:           strings.TrimSpace(lookupFold(props, MetaPublishPubSub)),
		PublishTopic:            strings.TrimSpace(lookupFold(props, MetaPublishTopic)),
		InternalPubSub:          strings.TrimSpace(lookupFold(props, MetaPubSub)),
		InternalTopic:           strings.TrimSpace(lookupFold(props, MetaInternalTopic)),
		DiscardWhenMissingState: state.IsTruthy(lookupFold(props, MetaDiscardNoState)),
	}
	switch {
	case cfg.PublishPubSub == "" && cfg.PublishTopic == "":
		return StoreConfig{}, false, nil
	case cfg.PublishPubSub == "":
		return StoreConfig{}, false, fmt.Errorf("outbox: %s is set but %s is missing", MetaPublishTopic, MetaPublishPubSub)
	case cfg.PublishTopic == "":
		return StoreConfig{}, false, fmt.Errorf("outbox: %s is set but %s is missing", MetaPublishPubSub, MetaPublishTopic)
	}
	if cfg.InternalPubSub == "" {
		cfg.InternalPubSub = cfg.PublishPubSub
	}
	return cfg, true, nil
}

// internalTopic is the topic the internal messages go to: the explicit
// outboxInternalTopic, else namespace + app id + publish topic + "outbox",
// as Dapr names it, so each app and user topic gets its own.
func (c StoreConfig) internalTopic(appID, namespace string) string {
	if c.InternalTopic != "" {
		return c.InternalTopic
	}
	return namespace + appID + c.PublishTopic + internalTopicSuffix
}

// markerKey is the state key that proves a transaction committed. It
// starts with "outbox||" and holds two separators, so no user key of any
// app (user keys never contain "||") can equal it, and the query API, which
// is restricted to "<appid>||" unless keyPrefix is none, does not return it.
func markerKey(appID, txID string) string {
	return "outbox" + state.KeySeparator + appID + state.KeySeparator + txID
}

// lookupFold reads a metadata key case-insensitively.
func lookupFold(props map[string]string, key string) string {
	if v, ok := props[key]; ok {
		return v
	}
	for k, v := range props {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}
