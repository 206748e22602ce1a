package delivery

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/outrigger/outrigger/internal/pubsub"
)

// contentTypeCloudEvent labels single deliveries to HTTP apps.
const contentTypeCloudEvent = pubsub.ContentTypeCloudEvent

// event is one message as the engine sees it: the bytes an HTTP app
// receives and the CloudEvent attributes used for routing, expiration and
// gRPC requests.
type event struct {
	body []byte // delivered as-is to HTTP apps
	// head holds the attributes every delivery reads. A JSON event is
	// only scanned for them: most deliveries (HTTP, no routing rules)
	// never need the whole event decoded.
	head pubsub.EnvelopeHead
	// attrs are the CloudEvent attributes (JSON numbers are json.Number);
	// for JSON events they are decoded on first use, see attributes.
	attrs map[string]any
	once  sync.Once // guards the decoding of attrs: a batch may read them on its own goroutine
	// binary: a binary-mode message (octet-stream); attrs came from the
	// broker's ce_ metadata and data is the payload.
	binary bool
	data   []byte
	cel    map[string]any // attrs with plain numbers, built on first use
}

// parseEvent reads a broker message: a JSON CloudEvent, a binary-mode
// message, or (rawPayload subscriptions) any bytes wrapped in a new
// CloudEvent. Anything else is an error, so the broker retries it (or it
// goes to the dead-letter topic).
func parseEvent(s *subscription, topic string, msg *pubsub.Message) (*event, error) {
	if s.raw {
		return wrapRaw(s.pubsub, topic, msg)
	}
	if isOctetStream(msg.ContentType) {
		return binaryEvent(msg), nil
	}
	head, err := pubsub.ScanEnvelope(msg.Data)
	if err != nil {
		return nil, fmt.Errorf("message on topic %s is not a JSON CloudEvent: %w", topic, err)
	}
	return &event{body: msg.Data, head: head}, nil
}

// newEventFromAttrs is an event whose attributes are already built.
func newEventFromAttrs(body []byte, attrs map[string]any) *event {
	str := func(k string) string { s, _ := attrs[k].(string); return s }
	head := pubsub.EnvelopeHead{ID: str(pubsub.CEID), TraceParent: str(pubsub.CETraceParent),
		TraceState: str(pubsub.CETraceState), Expiration: str(pubsub.CEExpiration)}
	return &event{body: body, head: head, attrs: attrs}
}

// wrapRaw builds the CloudEvent daprd gives rawPayload subscribers.
func wrapRaw(pubsubName, topic string, msg *pubsub.Message) (*event, error) {
	attrs := map[string]any{
		"id":              uuid.NewString(),
		"specversion":     "1.0",
		"datacontenttype": "application/octet-stream",
		"source":          "Dapr",
		"type":            "com.dapr.event.sent",
		"topic":           topic,
		"pubsubname":      pubsubName,
		"data_base64":     base64.StdEncoding.EncodeToString(msg.Data),
	}
	for _, k := range []string{"traceid", "traceparent", "tracestate"} {
		if v, ok := lookupFold(msg.Metadata, k); ok {
			attrs[k] = v
		}
	}
	body, err := json.Marshal(attrs)
	if err != nil {
		return nil, fmt.Errorf("wrapping a raw payload: %w", err)
	}
	return newEventFromAttrs(body, attrs), nil
}

// binaryEvent keeps the payload untouched and reads the attributes from
// the broker's ce_-prefixed metadata.
func binaryEvent(msg *pubsub.Message) *event {
	attrs := make(map[string]any)
	for k, v := range msg.Metadata {
		if len(k) > 3 && strings.EqualFold(k[:3], "ce_") {
			attrs[strings.ToLower(k[3:])] = v
		}
	}
	ev := newEventFromAttrs(msg.Data, attrs)
	ev.binary, ev.data = true, msg.Data
	return ev
}

func isOctetStream(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/octet-stream"
}

// attributes returns the CloudEvent attributes, decoding a JSON event on
// first use.
func (ev *event) attributes() map[string]any {
	ev.once.Do(func() {
		if ev.attrs == nil {
			// The body passed ScanEnvelope, so this cannot fail.
			ev.attrs, _ = pubsub.ParseEnvelope(ev.body)
		}
	})
	return ev.attrs
}

// str returns a string attribute ("" when absent or not a string).
func (ev *event) str(k string) string {
	switch k {
	case pubsub.CEID:
		return ev.head.ID
	case pubsub.CETraceParent:
		return ev.head.TraceParent
	case pubsub.CETraceState:
		return ev.head.TraceState
	case pubsub.CEExpiration:
		return ev.head.Expiration
	}
	s, _ := ev.attributes()[k].(string)
	return s
}

// expired reports whether the event carries an `expiration` in the past
// (set by publishers whose broker cannot expire messages itself).
func (ev *event) expired(now time.Time) bool { return pubsub.ExpiredAt(ev.head.Expiration, now) }

// celView is the event for CEL: JSON numbers become int64 or float64.
func (ev *event) celView() map[string]any {
	if ev.cel == nil {
		ev.cel, _ = plainValue(ev.attributes()).(map[string]any)
	}
	return ev.cel
}

// plainValue converts json.Number values (recursively) to int64 when
// integral, else float64, as CEL and structpb expect.
func plainValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plainValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plainValue(e)
		}
		return out
	}
	return v
}

func lookupFold(m map[string]string, key string) (string, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}
