package outbox

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/state"
)

// eventIDPrefix starts the id of every outbox CloudEvent, as in Dapr.
const eventIDPrefix = "outbox-"

// overridable are the CloudEvent attributes that `outbox.cloudevent.<name>`
// metadata replaces; they map to the envelope's `cloudevent.<name>` keys.
var overridable = map[string]bool{
	"id": true, "source": true, "type": true, "subject": true,
	"traceparent": true, "traceid": true, "tracestate": true,
}

// eventRequest builds the envelope request for one committed upsert. data
// is the value published: the upsert's own, or its projection's.
func eventRequest(appID string, cfg StoreConfig, data state.SetRequest, now time.Time) (pubsub.EnvelopeRequest, map[string]string) {
	overrides, extensions := cloudEventMetadata(data.Metadata)
	if _, ok := overrides[pubsubCEKey("id")]; !ok {
		overrides[pubsubCEKey("id")] = eventIDPrefix + uuid.NewString()
	}
	return pubsub.EnvelopeRequest{
		Source:      appID,
		Topic:       cfg.PublishTopic,
		PubSub:      cfg.PublishPubSub,
		ContentType: contentType(data),
		Data:        data.Value,
		Metadata:    overrides,
		Now:         now,
	}, extensions
}

// buildEvent returns the CloudEvent JSON for one committed upsert, with the
// envelope Dapr builds for a normal publish.
func buildEvent(appID string, cfg StoreConfig, data state.SetRequest, now time.Time) (json.RawMessage, error) {
	er, extensions := eventRequest(appID, cfg, data, now)
	b, err := pubsub.NewEnvelope(er)
	if err != nil {
		return nil, fmt.Errorf("build cloud event for key %q: %w", data.Key, err)
	}
	if len(extensions) == 0 {
		return b, nil
	}
	ce, err := pubsub.ParseEnvelope(b)
	if err != nil {
		return nil, fmt.Errorf("build cloud event for key %q: %w", data.Key, err)
	}
	for k, v := range extensions {
		ce[k] = v
	}
	if b, err = json.Marshal(ce); err != nil {
		return nil, fmt.Errorf("build cloud event for key %q: %w", data.Key, err)
	}
	return b, nil
}

// cloudEventMetadata splits `outbox.cloudevent.*` item metadata into
// envelope overrides (known attributes) and extension attributes. Dapr
// keeps extension attributes under their full metadata key (e.g.
// "outbox.cloudevent.myapp"); data and datacontenttype are not overrides
// (the data is the state value; the content type is read by contentType).
func cloudEventMetadata(md map[string]string) (overrides, extensions map[string]string) {
	overrides = map[string]string{}
	for k, v := range md {
		if len(k) <= len(metaCloudEvent) || !strings.EqualFold(k[:len(metaCloudEvent)], metaCloudEvent) {
			continue
		}
		name := strings.ToLower(k[len(metaCloudEvent):])
		switch {
		case overridable[name]:
			overrides[pubsubCEKey(name)] = v
		case name == "data" || name == "data_base64" || name == "datacontenttype":
		default:
			if extensions == nil {
				extensions = map[string]string{}
			}
			extensions[k] = v
		}
	}
	return overrides, extensions
}

// pubsubCEKey is the envelope metadata key overriding attribute name.
func pubsubCEKey(name string) string { return "cloudevent." + name }

// contentType is the event's datacontenttype: an explicit
// outbox.cloudevent.datacontenttype or contentType item metadata; else
// JSON for JSON values (every HTTP value), text for other UTF-8 bytes and
// octet-stream for the rest, so binary values survive as data_base64.
func contentType(data state.SetRequest) string {
	if ct := lookupFold(data.Metadata, metaCloudEvent+"datacontenttype"); ct != "" {
		return ct
	}
	if ct := lookupFold(data.Metadata, state.MetaContentType); ct != "" {
		return ct
	}
	switch {
	case !data.Binary:
		return "application/json"
	case utf8.Valid(data.Value):
		return "text/plain"
	}
	return "application/octet-stream"
}
