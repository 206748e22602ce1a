package http

import (
	"encoding/json"
	"net/http"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/outrigger/outrigger/internal/api"
	"github.com/outrigger/outrigger/internal/api/apierr"
)

// bindingRoutes handles POST|PUT /v1.0/bindings/{name}; it reports false
// when nothing matched.
func (h *Handler) bindingRoutes(w http.ResponseWriter, r *http.Request, rt route) bool {
	if len(rt.segs) != 2 || !isPostOrPut(r) {
		return false
	}
	h.withStore(w, rt, 1, func(name string) { h.invokeBinding(w, r, name) })
	return true
}

// bindingRequestJSON is the body of an output binding call. Data is any
// JSON value; query metadata.* parameters are not used.
type bindingRequestJSON struct {
	Data      any               `json:"data"`
	Metadata  map[string]string `json:"metadata"`
	Operation string            `json:"operation"`
}

// invokeBinding calls an output binding. As in daprd, `data` is decoded and
// encoded again with encoding/json, so the component gets JSON: a string
// "x" arrives as the three bytes "x" with its quotes. The binding's
// response metadata becomes metadata.<key> headers, also on failure.
func (h *Handler) invokeBinding(w http.ResponseWriter, r *http.Request, name string) {
	body, err := h.readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var in bindingRequestJSON
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, apierr.Malformed(err))
		return
	}
	data, err := json.Marshal(in.Data)
	if err != nil {
		writeError(w, apierr.MalformedRequestData(err))
		return
	}
	md, err := api.TraceMetadata(in.Metadata, r.Header.Get("traceparent"), r.Header.Get("tracestate"), r.Header.Get("baggage"))
	if err != nil {
		writeError(w, err)
		return
	}
	req := &runtimev1.InvokeBindingRequest{Name: name, Data: data, Metadata: md, Operation: in.Operation}
	res, err := h.core.InvokeBinding(r.Context(), req)
	if res != nil {
		setMetadataHeaders(w, res.GetMetadata())
	}
	if err != nil {
		writeError(w, err)
		return
	}
	if res == nil {
		writeNoContent(w)
		return
	}
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(res.GetData())
}
