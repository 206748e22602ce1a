package pubsub

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/outrigger/outrigger/internal/jsonwire"
)

// CloudEvent attribute names Dapr uses.
const (
	CEID              = "id"
	CESource          = "source"
	CEType            = "type"
	CESpecVersion     = "specversion"
	CEDataContentType = "datacontenttype"
	CEData            = "data"
	CEDataBase64      = "data_base64"
	CESubject         = "subject"
	CETopic           = "topic"
	CEPubSubName      = "pubsubname"
	CETraceID         = "traceid"
	CETraceParent     = "traceparent"
	CETraceState      = "tracestate"
	CETime            = "time"
	CEExpiration      = "expiration"
)

// Envelope defaults.
const (
	ContentTypeCloudEvent = "application/cloudevents+json"
	DefaultEventType      = "com.dapr.event.sent"
	// DefaultEventSource is the source given to a user CloudEvent that has none.
	DefaultEventSource = "Dapr"
	SpecVersion        = "1.0"
	defaultContentType = "text/plain"
)

// ErrInvalidCloudEvent is returned (wrapped) by NewEnvelope when a body
// sent as application/cloudevents+json is not a JSON object.
var ErrInvalidCloudEvent = errors.New("invalid cloud event")

// metaCloudEventPrefix marks publish metadata that overrides envelope fields.
const metaCloudEventPrefix = "cloudevent."

// EnvelopeRequest is one event to wrap in Dapr's CloudEvent envelope.
type EnvelopeRequest struct {
	Source      string // the publisher's app id
	Topic       string // the topic as the app named it (no namespace prefix)
	PubSub      string
	ContentType string // the request's content type; empty means text/plain
	Data        []byte
	// TraceParent and TraceState are the W3C context of the publish span;
	// empty when the publish is not sampled (they still appear, as "").
	TraceParent string
	TraceState  string
	// Metadata is the publish metadata; `cloudevent.*` keys override
	// envelope fields (keys compared case-insensitively).
	Metadata map[string]string
	// TTL, when positive, adds `expiration` = Now+TTL. The caller sets it
	// only when the broker lacks MESSAGE_TTL.
	TTL time.Duration
	// Now is the publish time; zero means time.Now().
	Now time.Time
}

// NewEnvelope returns the CloudEvent JSON for req. A request whose content
// type is application/cloudevents+json carries its own CloudEvent, which is
// kept and completed; its body must be a JSON object.
func NewEnvelope(req EnvelopeRequest) ([]byte, error) {
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	if !IsCloudEventContentType(req.ContentType) {
		return appendCloudEvent(nil, req, now), nil
	}
	ce, err := fromCloudEvent(req, now)
	if err != nil {
		return nil, err
	}
	if req.TTL > 0 {
		ce[CEExpiration] = now.Add(req.TTL).UTC().Format(time.RFC3339)
	}
	b, err := json.Marshal(ce)
	if err != nil {
		return nil, fmt.Errorf("marshal cloud event: %w", err)
	}
	return b, nil
}

// envelopeOverhead is about the size of an envelope without its data, so
// one allocation usually holds the whole event.
const envelopeOverhead = 512

// appendCloudEvent writes Dapr's envelope around a plain payload. The
// attributes are written in sorted order, the order encoding/json gives
// a map, so the bytes match what marshalling the envelope as a map did.
func appendCloudEvent(dst []byte, req EnvelopeRequest, now time.Time) []byte {
	o := overridesFrom(req.Metadata)
	id := o.get("id", "")
	if id == "" {
		id = uuid.NewString()
	}
	typ := o.get("type", "")
	if typ == "" {
		typ = DefaultEventType
	}
	// A non-empty traceparent override supersedes traceid; both fields
	// carry the same value.
	trace := o.get("traceparent", "")
	if trace == "" {
		trace = o.get("traceid", req.TraceParent)
	}
	ct := req.ContentType
	if ct == "" {
		ct = defaultContentType
	}
	dst = slices.Grow(dst, envelopeOverhead+len(req.Data))
	dst = append(dst, '{')
	dst = appendData(dst, ct, req.Data)
	dst = appendAttr(dst, CEDataContentType, ct)
	if req.TTL > 0 {
		dst = appendAttr(dst, CEExpiration, now.Add(req.TTL).UTC().Format(time.RFC3339))
	}
	dst = appendAttr(dst, CEID, id)
	dst = appendAttr(dst, CEPubSubName, req.PubSub)
	dst = appendAttr(dst, CESource, o.get("source", req.Source))
	dst = appendAttr(dst, CESpecVersion, SpecVersion)
	if s := o.get("subject", ""); s != "" {
		dst = appendAttr(dst, CESubject, s)
	}
	dst = append(dst, `,"`+CETime+`":"`...)
	dst = append(now.AppendFormat(dst, time.RFC3339), '"')
	dst = appendAttr(dst, CETopic, req.Topic)
	dst = appendAttr(dst, CETraceID, trace)
	dst = appendAttr(dst, CETraceParent, trace)
	dst = appendAttr(dst, CETraceState, o.get("tracestate", req.TraceState))
	dst = appendAttr(dst, CEType, typ)
	return append(dst, '}')
}

// appendAttr writes `,"name":value`; name needs no escaping.
func appendAttr(dst []byte, name, value string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	return jsonwire.AppendString(dst, value)
}

// appendData writes the data member for a content type: JSON types embed
// the first JSON value re-encoded (numbers exact; unparsable → the raw
// string), binary types go to data_base64, anything else is a string.
func appendData(dst []byte, ct string, data []byte) []byte {
	switch {
	case IsJSONContentType(ct):
		dst = append(dst, `"`+CEData+`":`...)
		if out, ok := appendCanonicalJSON(dst, data); ok {
			return out
		}
		// What the fast path declines: let encoding/json decide.
		if v, err := decodeFirst(data); err == nil {
			if b, err := json.Marshal(v); err == nil {
				return append(dst, b...)
			}
		}
	case IsBinaryContentType(ct):
		dst = append(dst, `"`+CEDataBase64+`":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, data)
		return append(dst, '"')
	default:
		dst = append(dst, `"`+CEData+`":`...)
	}
	return jsonwire.AppendString(dst, data)
}

// decodeFirst decodes the first JSON value of data with exact numbers.
// Like daprd, it ignores anything after that value.
func decodeFirst(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// fromCloudEvent keeps a user CloudEvent, overwriting topic and pubsubname
// and filling in the attributes it lacks.
func fromCloudEvent(req EnvelopeRequest, now time.Time) (map[string]any, error) {
	ce, err := ParseEnvelope(req.Data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCloudEvent, err)
	}
	ce[CETopic] = req.Topic
	ce[CEPubSubName] = req.PubSub
	defaults := []struct {
		key string
		val any
	}{
		{CESource, DefaultEventSource},
		{CEType, DefaultEventType},
		{CESpecVersion, SpecVersion},
		{CETraceParent, req.TraceParent},
		{CETraceID, req.TraceParent},
		{CETraceState, req.TraceState},
		{CETime, now.Format(time.RFC3339)},
	}
	for _, d := range defaults {
		if ce[d.key] == nil { // absent or JSON null
			ce[d.key] = d.val
		}
	}
	return ce, nil
}

// ParseEnvelope decodes a CloudEvent (a JSON object) with exact numbers.
func ParseEnvelope(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var ce map[string]any
	if err := dec.Decode(&ce); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if ce == nil {
		return nil, errors.New("not a JSON object: null")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("not a JSON object: data after the object")
	}
	return ce, nil
}

// Expired reports whether the CloudEvent's `expiration` is before now.
// Missing or unparsable expirations never expire.
func Expired(ce map[string]any, now time.Time) bool {
	s, _ := ce[CEExpiration].(string)
	return ExpiredAt(s, now)
}

// ExpiredAt reports whether an `expiration` attribute is before now; an
// empty or unparsable one never expires.
func ExpiredAt(expiration string, now time.Time) bool {
	if expiration == "" {
		return false
	}
	exp, err := time.Parse(time.RFC3339, expiration)
	if err != nil {
		return false
	}
	return exp.Before(now)
}

// EnvelopeHead holds the attributes the delivery path reads from every
// event. Each is the attribute's value when it is a string, else "".
type EnvelopeHead struct {
	ID, TraceParent, TraceState, Expiration string
}

// ScanEnvelope checks that data is a CloudEvent, a JSON object, exactly as
// ParseEnvelope does (with the same error), and reads its head without
// decoding the rest: delivering an event over HTTP needs nothing more.
func ScanEnvelope(data []byte) (EnvelopeHead, error) {
	head, ok := scanHead(data)
	if ok {
		return head, nil
	}
	if _, err := ParseEnvelope(data); err != nil {
		return EnvelopeHead{}, err
	}
	return EnvelopeHead{}, errors.New("not a JSON object") // unreachable: the two agree
}

// overrides are the `cloudevent.*` metadata values, keyed by the lowercased
// attribute name.
type overrides map[string]string

func overridesFrom(md map[string]string) overrides {
	var o overrides
	for k, v := range md {
		if len(k) <= len(metaCloudEventPrefix) || !strings.EqualFold(k[:len(metaCloudEventPrefix)], metaCloudEventPrefix) {
			continue
		}
		name := strings.ToLower(k[len(metaCloudEventPrefix):])
		// With keys differing only in case, the exactly lowercased one wins
		// so the result does not depend on map order.
		if _, dup := o[name]; dup && k != metaCloudEventPrefix+name {
			continue
		}
		if o == nil {
			o = overrides{}
		}
		o[name] = v
	}
	return o
}

// get returns the override for name if one was given (even empty), else def.
func (o overrides) get(name, def string) string {
	if v, ok := o[name]; ok {
		return v
	}
	return def
}

// IsCloudEventContentType reports application/cloudevents+json (any params).
func IsCloudEventContentType(ct string) bool { return mediaTypeIs(ct, ContentTypeCloudEvent) }

// IsJSONContentType reports application/json (any params).
func IsJSONContentType(ct string) bool { return mediaTypeIs(ct, "application/json") }

// IsBinaryContentType reports the types whose data goes to data_base64.
func IsBinaryContentType(ct string) bool {
	return mediaTypeIs(ct, "application/octet-stream") || mediaTypeIs(ct, "application/cloudevents+protobuf")
}

// IsStringContentType reports text/* and application/xml.
func IsStringContentType(ct string) bool {
	return strings.HasPrefix(strings.ToLower(ct), "text/") || mediaTypeIs(ct, "application/xml")
}

// mediaTypeIs compares the media type of ct (before any ';') to want,
// case-insensitively.
func mediaTypeIs(ct, want string) bool {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.EqualFold(ct, want)
}
