package http

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/pubsub"
)

// publishRoutes handles POST|PUT /v1.0/publish/{pubsub}/{topic...} and
// /v1.0[-alpha1]/publish/bulk/{pubsub}/{topic...}; it reports false when
// nothing matched. The topic is the rest of the path and may contain '/'.
func (h *Handler) publishRoutes(w http.ResponseWriter, r *http.Request, rt route) bool {
	if !isPostOrPut(r) {
		return false
	}
	segs := rt.segs
	switch {
	case len(segs) >= 4 && segs[1] == "bulk":
		h.withPubSubTopic(w, segs[2], segs[3:], func(name, topic string) { h.bulkPublish(w, r, name, topic) })
	case rt.version == "v1.0" && len(segs) >= 3:
		h.withPubSubTopic(w, segs[1], segs[2:], func(name, topic string) { h.publish(w, r, name, topic) })
	default:
		return false
	}
	return true
}

// withPubSubTopic unescapes the pub/sub segment and the topic (the
// remaining segments joined by '/'), or answers 400 as the router does.
func (h *Handler) withPubSubTopic(w http.ResponseWriter, nameSeg string, topicSegs []string, fn func(name, topic string)) {
	name, err := url.QueryUnescape(nameSeg)
	if err != nil {
		badParam(w, err)
		return
	}
	topic, err := url.QueryUnescape(strings.Join(topicSegs, "/"))
	if err != nil {
		badParam(w, err)
		return
	}
	fn(name, topic)
}

func (h *Handler) publish(w http.ResponseWriter, r *http.Request, name, topic string) {
	md := queryMetadata(r.URL)
	if err := h.core.ValidatePublish(name, topic, md); err != nil {
		writeError(w, err)
		return
	}
	body, err := h.readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	req := &runtimev1.PublishEventRequest{PubsubName: name, Topic: topic, Data: body, DataContentType: r.Header.Get("Content-Type"), Metadata: md}
	if err := h.core.PublishEvent(r.Context(), req); err != nil {
		writeError(w, err)
		return
	}
	writeNoContent(w)
}

// bulkEntryJSON is one entry of a bulk publish body.
type bulkEntryJSON struct {
	EntryID     string            `json:"entryId"`
	Event       json.RawMessage   `json:"event"`
	ContentType string            `json:"contentType"`
	Metadata    map[string]string `json:"metadata"`
}

// bulkFailedJSON and bulkResultJSON are the body of a failed bulk publish.
type bulkFailedJSON struct {
	EntryID string `json:"entryId"`
	Error   string `json:"error,omitempty"`
}

type bulkResultJSON struct {
	FailedEntries []bulkFailedJSON `json:"failedEntries"`
	ErrorCode     string           `json:"errorCode,omitempty"`
}

func (h *Handler) bulkPublish(w http.ResponseWriter, r *http.Request, name, topic string) {
	md := queryMetadata(r.URL)
	if err := h.core.ValidatePublish(name, topic, md); err != nil {
		writeError(w, err)
		return
	}
	body, err := h.readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	req, err := h.bulkRequest(name, topic, md, body)
	if err != nil {
		writeError(w, err)
		return
	}
	res, err := h.core.BulkPublishEvent(r.Context(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	if len(res.GetFailedEntries()) == 0 {
		writeNoContent(w)
		return
	}
	writeBulkFailures(w, res)
}

// bulkRequest decodes the JSON array of entries. Entries are checked in
// order, each for its event and then its id, as daprd does.
func (h *Handler) bulkRequest(name, topic string, md map[string]string, body []byte) (*runtimev1.BulkPublishRequest, error) {
	appID := h.core.AppID()
	var in []bulkEntryJSON
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, apierr.PubSubUnmarshalEvents(name, topic, appID, err)
	}
	req := &runtimev1.BulkPublishRequest{PubsubName: name, Topic: topic, Metadata: md, Entries: make([]*runtimev1.BulkPublishRequestEntry, 0, len(in))}
	seen := make(map[string]bool, len(in))
	for _, e := range in {
		event, err := eventBytes(e.Event, e.ContentType)
		if err != nil {
			return nil, apierr.PubSubMarshalEnvelope(name, topic, appID, err)
		}
		if e.EntryID == "" || seen[e.EntryID] {
			return nil, apierr.PubSubEntryID(name, topic, appID)
		}
		seen[e.EntryID] = true
		req.Entries = append(req.Entries, &runtimev1.BulkPublishRequestEntry{EntryId: e.EntryID, Event: event, ContentType: e.ContentType, Metadata: e.Metadata})
	}
	return req, nil
}

// eventBytes turns an entry's JSON event into the bytes to publish, by
// content type: binary → a base64 string, decoded; text/* and
// application/xml → a JSON string; JSON and CloudEvents → any JSON value,
// re-encoded compactly (numbers exact). Anything else is a mismatch.
func eventBytes(raw json.RawMessage, ct string) ([]byte, error) {
	switch {
	case pubsub.IsBinaryContentType(ct):
		s, ok := jsonString(raw)
		if !ok {
			return nil, apierr.ErrContentTypeMismatch
		}
		return base64.StdEncoding.DecodeString(s)
	case pubsub.IsStringContentType(ct):
		s, ok := jsonString(raw)
		if !ok {
			return nil, apierr.ErrContentTypeMismatch
		}
		return []byte(s), nil
	case pubsub.IsJSONContentType(ct) || pubsub.IsCloudEventContentType(ct):
		if len(raw) == 0 {
			return []byte("null"), nil
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		return json.Marshal(v)
	}
	return nil, apierr.ErrContentTypeMismatch
}

// jsonString returns raw as a Go string if it is a JSON string (not null).
func jsonString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// writeBulkFailures answers a partly or wholly failed bulk publish: 500
// with the failed entries, the same JSON in the metadata.responseData
// header and the first error in metadata.error.
func writeBulkFailures(w http.ResponseWriter, res *runtimev1.BulkPublishResponse) {
	out := bulkResultJSON{ErrorCode: apierr.CodePubSubPublishMessage}
	for _, f := range res.GetFailedEntries() {
		out.FailedEntries = append(out.FailedEntries, bulkFailedJSON{EntryID: f.GetEntryId(), Error: f.GetError()})
	}
	body, _ := json.Marshal(out) // strings only: can't fail
	setMetadataHeaders(w, map[string]string{"responseData": string(body), "error": out.FailedEntries[0].Error})
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write(body)
}
