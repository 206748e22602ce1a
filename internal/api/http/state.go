package http

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/outrigger/outrigger/internal/api/apierr"
)

// stateRoutes handles /v1.0/state/...; it reports false when nothing matched.
func (h *Handler) stateRoutes(w http.ResponseWriter, r *http.Request, rt route) bool {
	switch len(rt.segs) {
	case 2: // /state/{store}
		if !isPostOrPut(r) {
			return false
		}
		h.withStore(w, rt, 1, func(store string) { h.saveState(w, r, store) })
		return true
	case 3: // /state/{store}/{key|bulk|transaction}
		switch {
		case r.Method == http.MethodGet:
			h.withStoreKey(w, rt, func(store, key string) { h.getState(w, r, store, key) })
		case r.Method == http.MethodDelete:
			h.withStoreKey(w, rt, func(store, key string) { h.deleteState(w, r, store, key) })
		case isPostOrPut(r) && rt.segs[2] == "bulk":
			h.withStore(w, rt, 1, func(store string) { h.bulkGetState(w, r, store) })
		case isPostOrPut(r) && rt.segs[2] == "transaction":
			h.withStore(w, rt, 1, func(store string) { h.transaction(w, r, store) })
		default:
			return false
		}
		return true
	}
	return false
}

func (h *Handler) withStoreKey(w http.ResponseWriter, rt route, fn func(store, key string)) {
	store, err := rt.param(1)
	if err != nil {
		badParam(w, err)
		return
	}
	key, err := rt.param(2)
	if err != nil {
		badParam(w, err)
		return
	}
	fn(store, key)
}

func (h *Handler) getState(w http.ResponseWriter, r *http.Request, store, key string) {
	q := r.URL.Query()
	consistency, err := consistencyFromString(q.Get("consistency"))
	if err != nil {
		writeError(w, err)
		return
	}
	res, err := h.core.GetState(r.Context(), &runtimev1.GetStateRequest{StoreName: store, Key: key, Consistency: consistency, Metadata: queryMetadata(r.URL)})
	if err != nil {
		writeError(w, err)
		return
	}
	if len(res.GetData()) == 0 {
		writeNoContent(w)
		return
	}
	hd := w.Header()
	hd["Content-Type"] = jsonContentType
	if res.GetEtag() != "" {
		hd["Etag"] = []string{res.GetEtag()}
	}
	setMetadataHeaders(w, res.GetMetadata())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(res.GetData())
}

// stateItemJSON is one item of a save request body.
type stateItemJSON struct {
	Key      string            `json:"key"`
	Value    json.RawMessage   `json:"value"`
	ETag     *string           `json:"etag"`
	Metadata map[string]string `json:"metadata"`
	Options  *stateOptionsJSON `json:"options"`
}

type stateOptionsJSON struct {
	Concurrency string `json:"concurrency"`
	Consistency string `json:"consistency"`
}

func (it *stateItemJSON) toProto(queryMD map[string]string) (*commonv1.StateItem, error) {
	opts, err := it.Options.toProto()
	if err != nil {
		return nil, err
	}
	item := &commonv1.StateItem{Key: it.Key, Value: it.Value, Metadata: overlay(it.Metadata, queryMD), Options: opts}
	if it.ETag != nil {
		item.Etag = &commonv1.Etag{Value: *it.ETag}
	}
	return item, nil
}

// overlay returns base with over's entries on top (query metadata wins).
func overlay(base, over map[string]string) map[string]string {
	if len(over) == 0 {
		return base
	}
	out := make(map[string]string, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

func (o *stateOptionsJSON) toProto() (*commonv1.StateOptions, error) {
	if o == nil {
		return nil, nil
	}
	conc, err := concurrencyFromString(o.Concurrency)
	if err != nil {
		return nil, err
	}
	cons, err := consistencyFromString(o.Consistency)
	if err != nil {
		return nil, err
	}
	return &commonv1.StateOptions{Concurrency: conc, Consistency: cons}, nil
}

func concurrencyFromString(s string) (commonv1.StateOptions_StateConcurrency, error) {
	switch s {
	case "":
		return commonv1.StateOptions_CONCURRENCY_UNSPECIFIED, nil
	case "first-write":
		return commonv1.StateOptions_CONCURRENCY_FIRST_WRITE, nil
	case "last-write":
		return commonv1.StateOptions_CONCURRENCY_LAST_WRITE, nil
	}
	return 0, apierr.MalformedMsg(fmt.Sprintf("unrecognized concurrency model '%s' (use first-write or last-write)", s))
}

func consistencyFromString(s string) (commonv1.StateOptions_StateConsistency, error) {
	switch s {
	case "":
		return commonv1.StateOptions_CONSISTENCY_UNSPECIFIED, nil
	case "eventual":
		return commonv1.StateOptions_CONSISTENCY_EVENTUAL, nil
	case "strong":
		return commonv1.StateOptions_CONSISTENCY_STRONG, nil
	}
	return 0, apierr.MalformedMsg(fmt.Sprintf("unrecognized consistency model '%s' (use eventual or strong)", s))
}

// readBody reads the whole body, mapping failures to Dapr's errors.
func (h *Handler) readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, readError(err, h.max)
	}
	return body, nil
}

// decodeStrict decodes exactly one JSON value from body into v.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return apierr.Malformed(err)
	}
	if dec.More() {
		return apierr.Malformed(fmt.Errorf("unexpected data after the JSON value"))
	}
	return nil
}

func (h *Handler) saveState(w http.ResponseWriter, r *http.Request, store string) {
	body, err := h.readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var items []stateItemJSON
	if err := decodeStrict(body, &items); err != nil {
		writeError(w, err)
		return
	}
	if items == nil {
		writeError(w, apierr.Malformed(fmt.Errorf("expected a JSON array of state items")))
		return
	}
	queryMD := queryMetadata(r.URL)
	req := &runtimev1.SaveStateRequest{StoreName: store, States: make([]*commonv1.StateItem, 0, len(items))}
	for i := range items {
		if items[i].Key == "" {
			writeError(w, apierr.MalformedMsg(`"key" is a required field`))
			return
		}
		item, err := items[i].toProto(queryMD)
		if err != nil {
			writeError(w, err)
			return
		}
		req.States = append(req.States, item)
	}
	if err := h.core.SaveStateJSON(r.Context(), req); err != nil {
		writeError(w, err)
		return
	}
	writeNoContent(w)
}

func (h *Handler) deleteState(w http.ResponseWriter, r *http.Request, store, key string) {
	q := r.URL.Query()
	opts, err := (&stateOptionsJSON{Concurrency: q.Get("concurrency"), Consistency: q.Get("consistency")}).toProto()
	if err != nil {
		writeError(w, err)
		return
	}
	req := &runtimev1.DeleteStateRequest{StoreName: store, Key: key, Options: opts, Metadata: queryMetadata(r.URL)}
	if vs, ok := r.Header["If-Match"]; ok {
		v := ""
		if len(vs) > 0 {
			v = vs[0]
		}
		req.Etag = &commonv1.Etag{Value: v}
	}
	if err := h.core.DeleteState(r.Context(), req); err != nil {
		writeError(w, err)
		return
	}
	writeNoContent(w)
}

type bulkGetJSON struct {
	Keys        []string          `json:"keys"`
	Parallelism int32             `json:"parallelism"`
	Metadata    map[string]string `json:"metadata"`
}

type bulkItemJSON struct {
	Key      string            `json:"key"`
	Data     json.RawMessage   `json:"data,omitempty"`
	ETag     string            `json:"etag,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
	Error    string            `json:"error,omitempty"`
}

func (h *Handler) bulkGetState(w http.ResponseWriter, r *http.Request, store string) {
	body, err := h.readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var in bulkGetJSON
	if err := decodeStrict(body, &in); err != nil {
		writeError(w, err)
		return
	}
	res, err := h.core.GetBulkState(r.Context(), &runtimev1.GetBulkStateRequest{StoreName: store, Keys: in.Keys, Parallelism: in.Parallelism, Metadata: overlay(in.Metadata, queryMetadata(r.URL))})
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]bulkItemJSON, 0, len(res.GetItems()))
	for _, it := range res.GetItems() {
		out = append(out, bulkItemJSON{Key: it.GetKey(), Data: rawOrString(it.GetData()), ETag: it.GetEtag(), Metadata: it.GetMetadata(), Error: it.GetError()})
	}
	writeJSON(w, out)
}

type transactionJSON struct {
	Operations []struct {
		Operation string        `json:"operation"`
		Request   stateItemJSON `json:"request"`
	} `json:"operations"`
	Metadata map[string]string `json:"metadata"`
}

func (h *Handler) transaction(w http.ResponseWriter, r *http.Request, store string) {
	body, err := h.readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var in transactionJSON
	if err := decodeStrict(body, &in); err != nil {
		writeError(w, err)
		return
	}
	queryMD := queryMetadata(r.URL)
	req := &runtimev1.ExecuteStateTransactionRequest{StoreName: store, Metadata: overlay(in.Metadata, queryMD)}
	for _, op := range in.Operations {
		item, err := op.Request.toProto(queryMD)
		if err != nil {
			writeError(w, err)
			return
		}
		req.Operations = append(req.Operations, &runtimev1.TransactionalStateOperation{OperationType: strings.ToLower(op.Operation), Request: item})
	}
	if err := h.core.ExecuteStateTransactionJSON(r.Context(), req); err != nil {
		writeError(w, err)
		return
	}
	writeNoContent(w)
}

type queryResultJSON struct {
	Key   string          `json:"key"`
	Data  json.RawMessage `json:"data,omitempty"`
	ETag  string          `json:"etag,omitempty"`
	Error string          `json:"error,omitempty"`
}

type queryResponseJSON struct {
	Results  []queryResultJSON `json:"results"`
	Token    string            `json:"token,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

func (h *Handler) queryState(w http.ResponseWriter, r *http.Request, store string) {
	body, err := h.readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	res, err := h.core.QueryState(r.Context(), &runtimev1.QueryStateRequest{StoreName: store, Query: string(body), Metadata: queryMetadata(r.URL)})
	if err != nil {
		writeError(w, err)
		return
	}
	if len(res.GetResults()) == 0 {
		writeNoContent(w)
		return
	}
	out := queryResponseJSON{Token: res.GetToken(), Metadata: res.GetMetadata()}
	for _, it := range res.GetResults() {
		out.Results = append(out.Results, queryResultJSON{Key: it.GetKey(), Data: rawOrString(it.GetData()), ETag: it.GetEtag(), Error: it.GetError()})
	}
	writeJSON(w, out)
}
