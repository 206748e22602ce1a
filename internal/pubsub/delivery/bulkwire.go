package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/outrigger/outrigger/internal/jsonwire"
)

// bulkRequest is the HTTP body of a bulk delivery.
type bulkRequest struct {
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	Topic      string            `json:"topic"`
	PubsubName string            `json:"pubsubname"`
	Metadata   map[string]string `json:"metadata"`
	Entries    []bulkEntry       `json:"entries"`
}

type bulkEntry struct {
	EntryID     string            `json:"entryId"`
	Event       json.RawMessage   `json:"event"`
	Metadata    map[string]string `json:"metadata"`
	ContentType string            `json:"contentType"`
}

// bulkResponse is the app's answer.
type bulkResponse struct {
	Statuses []struct {
		EntryID string `json:"entryId"`
		Status  string `json:"status"`
	} `json:"statuses"`
}

// deliverBulkHTTP POSTs one batch to an HTTP app and returns the status of
// each entry it answered for.
func (e *Engine) deliverBulkHTTP(ctx context.Context, s *subscription, route string, items []*bulkItem) (map[string]outcome, error) {
	req := bulkRequest{
		ID:         uuid.NewString(),
		Type:       bulkEventType,
		Topic:      items[0].d.topic,
		PubsubName: s.pubsub,
		Metadata:   nonNil(s.metadata),
	}
	for _, it := range items {
		ent, err := httpBulkEntry(it)
		if err != nil {
			return nil, err
		}
		req.Entries = append(req.Entries, ent)
	}
	body, err := req.marshal()
	if err != nil {
		return nil, fmt.Errorf("encoding the bulk request: %w", err)
	}
	hdr := headers{}
	hdr.set("pubsubName", s.pubsub)
	code, answer, err := e.callHTTP(ctx, route, "application/json", hdr, body)
	switch {
	case err != nil:
		return nil, err
	case code == http.StatusNotFound:
		return allStatuses(items, outcomeDrop), nil
	case code < 200 || code > 299:
		return nil, &HTTPStatusError{Code: code}
	}
	var resp bulkResponse
	if err := json.Unmarshal(answer, &resp); err != nil {
		return nil, fmt.Errorf("app answered a bulk delivery with a non-JSON body: %w", err)
	}
	statuses := make(map[string]outcome, len(resp.Statuses))
	for _, st := range resp.Statuses {
		switch strings.ToUpper(st.Status) {
		case "SUCCESS":
			statuses[st.EntryID] = outcomeSuccess
		case "DROP":
			statuses[st.EntryID] = outcomeDrop
		default: // RETRY, empty or unknown
			statuses[st.EntryID] = outcomeRetry
		}
	}
	return statuses, nil
}

// marshal encodes the request exactly as json.Marshal does, writing the
// events, most often already in their final form, without the reflection
// and the second pass over every event that json.Marshal takes.
func (r *bulkRequest) marshal() ([]byte, error) {
	size := 256
	for _, e := range r.Entries {
		size += len(e.Event) + 128
	}
	b := make([]byte, 0, size)
	b = jsonwire.AppendMember(b, '{', "id", r.ID)
	b = jsonwire.AppendMember(b, ',', "type", r.Type)
	b = jsonwire.AppendMember(b, ',', "topic", r.Topic)
	b = jsonwire.AppendMember(b, ',', "pubsubname", r.PubsubName)
	b = appendStringMap(append(b, `,"metadata":`...), r.Metadata)
	b = append(b, `,"entries":`...)
	if r.Entries == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, e := range r.Entries {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonwire.AppendMember(b, '{', "entryId", e.EntryID)
			b = append(b, `,"event":`...)
			var err error
			if b, err = jsonwire.AppendRaw(b, e.Event); err != nil {
				return nil, err
			}
			b = appendStringMap(append(b, `,"metadata":`...), e.Metadata)
			b = jsonwire.AppendMember(b, ',', "contentType", e.ContentType)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

// appendStringMap writes m as json.Marshal does: keys sorted, nil as null.
func appendStringMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	keys := slices.Sorted(maps.Keys(m))
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(jsonwire.AppendString(b, k), ':')
		b = jsonwire.AppendString(b, m[k])
	}
	return append(b, '}')
}

// httpBulkEntry carries a CloudEvent as a JSON object and a raw payload
// (rawPayload or binary mode) as base64.
func httpBulkEntry(it *bulkItem) (bulkEntry, error) {
	d := it.d
	ent := bulkEntry{EntryID: it.id, Metadata: nonNil(d.msg.Metadata), ContentType: contentTypeCloudEvent, Event: d.ev.body}
	if d.sub.raw || d.ev.binary {
		b, err := json.Marshal(d.msg.Data)
		if err != nil {
			return ent, fmt.Errorf("encoding a raw bulk entry: %w", err)
		}
		ent.Event = b
		ent.ContentType = rawContentType(d.msg.ContentType)
	}
	return ent, nil
}

func rawContentType(ct string) string {
	if ct == "" {
		return "application/octet-stream"
	}
	return ct
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// deliverBulk calls OnBulkTopicEvent, falling back to the alpha service;
// an app implementing neither drops the batch, as for single events.
func (g *grpcApp) deliverBulk(ctx context.Context, s *subscription, route string, items []*bulkItem) (map[string]outcome, error) {
	req := &runtimev1.TopicEventBulkRequest{
		Id:         uuid.NewString(),
		Metadata:   s.metadata,
		Topic:      items[0].d.topic,
		PubsubName: s.pubsub,
		Type:       bulkEventType,
		Path:       route,
	}
	for _, it := range items {
		req.Entries = append(req.Entries, grpcBulkEntry(it))
	}
	release, err := g.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	cctx := g.outgoing(ctx, nil)
	resp, err := g.app.OnBulkTopicEvent(cctx, req)
	if status.Code(err) == codes.Unimplemented {
		//lint:ignore SA1019 daprd falls back to the deprecated service for older SDKs
		resp, err = g.alpha.OnBulkTopicEventAlpha1(cctx, req)
	}
	if status.Code(err) == codes.Unimplemented {
		return allStatuses(items, outcomeDrop), nil
	}
	if err != nil {
		return nil, fmt.Errorf("OnBulkTopicEvent: %w", err)
	}
	statuses := make(map[string]outcome, len(resp.GetStatuses()))
	for _, st := range resp.GetStatuses() {
		out, _ := statusOutcome(st.GetStatus())
		statuses[st.GetEntryId()] = out
	}
	return statuses, nil
}

func grpcBulkEntry(it *bulkItem) *runtimev1.TopicEventBulkRequestEntry {
	d := it.d
	ent := &runtimev1.TopicEventBulkRequestEntry{EntryId: it.id, Metadata: d.msg.Metadata, ContentType: contentTypeCloudEvent}
	if d.sub.raw || d.ev.binary {
		ent.Event = &runtimev1.TopicEventBulkRequestEntry_Bytes{Bytes: d.msg.Data}
		ent.ContentType = rawContentType(d.msg.ContentType)
		return ent
	}
	ent.Event = &runtimev1.TopicEventBulkRequestEntry_CloudEvent{CloudEvent: ceRequest(d.ev)}
	return ent
}
