package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encoding the bulk request: %w", err)
	}
	hdr := map[string][]string{"pubsubName": {s.pubsub}}
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
