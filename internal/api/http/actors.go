package http

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/outrigger/outrigger/internal/actors"
	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/appchannel"
	"github.com/outrigger/outrigger/internal/invoke"
)

// actorRoutes serves /v1.0/actors/{type}/{id}/...; it reports false for
// paths it does not know, which then fall through to service invocation.
func (h *Handler) actorRoutes(w http.ResponseWriter, r *http.Request, rt route) bool {
	n := len(rt.segs)
	if n < 4 {
		return false
	}
	typ, err := rt.param(1)
	if err != nil {
		badParam(w, err)
		return true
	}
	id, err := rt.param(2)
	if err != nil {
		badParam(w, err)
		return true
	}
	sub := rt.segs[3]
	switch {
	case sub == "method" && n >= 5:
		method, err := unescapeAll(rt.segs[4:])
		if err != nil {
			badParam(w, err)
			return true
		}
		h.invokeActor(w, r, typ, id, method)
	case sub == "state" && n == 4 && isPostOrPut(r):
		h.actorTransaction(w, r, typ, id)
	case sub == "state" && n == 5 && r.Method == http.MethodGet:
		h.withParam(w, rt, 4, func(key string) { h.getActorState(w, r, typ, id, key) })
	case sub == "reminders" && n == 5:
		return h.reminderRoutes(w, r, rt, typ, id)
	case sub == "timers" && n == 5:
		return h.timerRoutes(w, r, rt, typ, id)
	default:
		return false
	}
	return true
}

func (h *Handler) reminderRoutes(w http.ResponseWriter, r *http.Request, rt route, typ, id string) bool {
	switch {
	case isPostOrPut(r):
		h.withParam(w, rt, 4, func(name string) { h.createReminder(w, r, typ, id, name) })
	case r.Method == http.MethodGet:
		h.withParam(w, rt, 4, func(name string) { h.getReminder(w, r, typ, id, name) })
	case r.Method == http.MethodDelete:
		h.withParam(w, rt, 4, func(name string) {
			h.noContent(w, h.core.UnregisterActorReminder(r.Context(), &runtimev1.UnregisterActorReminderRequest{ActorType: typ, ActorId: id, Name: name}))
		})
	default:
		return false
	}
	return true
}

func (h *Handler) timerRoutes(w http.ResponseWriter, r *http.Request, rt route, typ, id string) bool {
	switch {
	case isPostOrPut(r):
		h.withParam(w, rt, 4, func(name string) { h.createTimer(w, r, typ, id, name) })
	case r.Method == http.MethodDelete:
		h.withParam(w, rt, 4, func(name string) {
			h.noContent(w, h.core.UnregisterActorTimer(r.Context(), &runtimev1.UnregisterActorTimerRequest{ActorType: typ, ActorId: id, Name: name}))
		})
	default:
		return false
	}
	return true
}

// withParam decodes path segment i and calls fn, or answers 400.
func (h *Handler) withParam(w http.ResponseWriter, rt route, i int, fn func(string)) {
	v, err := rt.param(i)
	if err != nil {
		badParam(w, err)
		return
	}
	fn(v)
}

// unescapeAll decodes segments and joins them with "/".
func unescapeAll(segs []string) (string, error) {
	rt := route{segs: segs}
	parts := make([]string, len(segs))
	for i := range segs {
		v, err := rt.param(i)
		if err != nil {
			return "", err
		}
		parts[i] = v
	}
	return strings.Join(parts, "/"), nil
}

// noContent answers 204, or the error.
func (h *Handler) noContent(w http.ResponseWriter, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	writeNoContent(w)
}

// invokeActor calls an actor method: headers and body go to the app, the
// app's status, headers and body come back, also when the app reports an
// actor error.
func (h *Handler) invokeActor(w http.ResponseWriter, r *http.Request, typ, id, method string) {
	body, err := h.readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	req := invoke.RequestFromHTTP(r, method).Message
	req.Message.Data = &anypb.Any{Value: body}
	resp, err := h.core.CallActor(r.Context(), typ, id, req)
	if ae, ok := actors.IsActorError(err); ok {
		resp, err = ae.Response, nil
	}
	if err != nil {
		writeError(w, err)
		return
	}
	data := resp.GetMessage().GetData().GetValue()
	if resp.GetMessage() != nil {
		resp.Message.Data = nil
	}
	out := &appchannel.Response{Message: resp, Body: io.NopCloser(bytes.NewReader(data))}
	if err := invoke.WriteHTTP(w, out); err != nil {
		panic(http.ErrAbortHandler)
	}
}

func (h *Handler) getActorState(w http.ResponseWriter, r *http.Request, typ, id, key string) {
	res, err := h.core.GetActorState(r.Context(), &runtimev1.GetActorStateRequest{ActorType: typ, ActorId: id, Key: key})
	if err != nil {
		writeError(w, err)
		return
	}
	if len(res.GetData()) == 0 {
		writeNoContent(w)
		return
	}
	w.Header()["Content-Type"] = jsonContentType
	setMetadataHeaders(w, res.GetMetadata())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(res.GetData())
}

// actorStateOp is one step of the HTTP state transaction body.
type actorStateOp struct {
	Operation string `json:"operation"`
	Request   struct {
		Key      string            `json:"key"`
		Value    json.RawMessage   `json:"value"`
		Metadata map[string]string `json:"metadata"`
		ETag     *string           `json:"etag"`
	} `json:"request"`
}

func (h *Handler) actorTransaction(w http.ResponseWriter, r *http.Request, typ, id string) {
	body, err := h.readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var ops []actorStateOp
	if err := json.Unmarshal(body, &ops); err != nil {
		writeError(w, apierr.Malformed(err))
		return
	}
	req := &runtimev1.ExecuteActorStateTransactionRequest{ActorType: typ, ActorId: id}
	for _, op := range ops {
		o := &runtimev1.TransactionalActorStateOperation{OperationType: op.Operation, Key: op.Request.Key, Metadata: op.Request.Metadata}
		if op.Request.Value != nil {
			o.Value = &anypb.Any{Value: op.Request.Value}
		}
		req.Operations = append(req.Operations, o)
	}
	h.noContent(w, h.core.ExecuteActorStateTransaction(r.Context(), req))
}

// reminderBody is the HTTP reminder create body. failure_policy is
// accepted and ignored, as daprd's JSON decoding cannot fill it either.
type reminderBody struct {
	DueTime       string          `json:"dueTime"`
	Period        string          `json:"period"`
	TTL           string          `json:"ttl"`
	Data          json.RawMessage `json:"data"`
	Overwrite     *bool           `json:"overwrite"`
	FailurePolicy json.RawMessage `json:"failure_policy"`
}

func (h *Handler) createReminder(w http.ResponseWriter, r *http.Request, typ, id, name string) {
	var b reminderBody
	if !h.decodeJSON(w, r, &b) {
		return
	}
	h.noContent(w, h.core.RegisterActorReminder(r.Context(), &runtimev1.RegisterActorReminderRequest{
		ActorType: typ, ActorId: id, Name: name, DueTime: b.DueTime, Period: b.Period, Ttl: b.TTL,
		Data: nullToNil(b.Data), Overwrite: b.Overwrite,
	}))
}

// reminderJSON is the HTTP reminder GET response.
type reminderJSON struct {
	ActorID   string          `json:"actorID,omitempty"`
	ActorType string          `json:"actorType,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"`
	DueTime   string          `json:"dueTime,omitempty"`
	Period    string          `json:"period,omitempty"`
	TTL       string          `json:"ttl,omitempty"`
}

func (h *Handler) getReminder(w http.ResponseWriter, r *http.Request, typ, id, name string) {
	res, err := h.core.GetActorReminder(r.Context(), &runtimev1.GetActorReminderRequest{ActorType: typ, ActorId: id, Name: name})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, reminderJSON{
		ActorID: res.GetActorId(), ActorType: res.GetActorType(), Data: rawOrString(res.GetData().GetValue()),
		DueTime: res.GetDueTime(), Period: res.GetPeriod(), TTL: res.GetTtl(),
	})
}

// timerBody is the HTTP timer create body.
type timerBody struct {
	DueTime  string          `json:"dueTime"`
	Period   string          `json:"period"`
	TTL      string          `json:"ttl"`
	Callback string          `json:"callback"`
	Data     json.RawMessage `json:"data"`
}

func (h *Handler) createTimer(w http.ResponseWriter, r *http.Request, typ, id, name string) {
	var b timerBody
	if !h.decodeJSON(w, r, &b) {
		return
	}
	h.noContent(w, h.core.RegisterActorTimer(r.Context(), &runtimev1.RegisterActorTimerRequest{
		ActorType: typ, ActorId: id, Name: name, DueTime: b.DueTime, Period: b.Period, Ttl: b.TTL,
		Callback: b.Callback, Data: nullToNil(b.Data),
	}))
}

// decodeJSON reads a JSON body into v (an empty body leaves v zero),
// answering the error itself; it reports whether to go on.
func (h *Handler) decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := h.readBody(r)
	if err != nil {
		writeError(w, err)
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeError(w, apierr.Malformed(err))
		return false
	}
	return true
}

func nullToNil(b json.RawMessage) []byte {
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	return b
}
