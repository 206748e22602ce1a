package http

import (
	"encoding/json"
	"net/http"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/outrigger/outrigger/internal/api/apierr"
)

// configurationRoutes handles /v1.0[-alpha1]/configuration/...; it reports
// false when nothing matched.
func (h *Handler) configurationRoutes(w http.ResponseWriter, r *http.Request, rt route) bool {
	if r.Method != http.MethodGet {
		return false
	}
	switch n := len(rt.segs); {
	case n == 2: // /configuration/{store}
		h.withStore(w, rt, 1, func(store string) { h.getConfiguration(w, r, store) })
	case n == 3 && rt.segs[2] == "subscribe":
		h.withStore(w, rt, 1, func(store string) { h.subscribeConfiguration(w, r, store) })
	case n == 4 && rt.segs[3] == "unsubscribe":
		h.withStoreKey(w, rt, func(store, id string) { h.unsubscribeConfiguration(w, r, store, id) })
	default:
		return false
	}
	return true
}

// configItemJSON is one item of a get response; empty fields are left out.
type configItemJSON struct {
	Value    string            `json:"value,omitempty"`
	Version  string            `json:"version,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

func (h *Handler) getConfiguration(w http.ResponseWriter, r *http.Request, store string) {
	res, err := h.core.GetConfiguration(r.Context(), &runtimev1.GetConfigurationRequest{
		StoreName: store, Keys: r.URL.Query()["key"], Metadata: queryMetadata(r.URL),
	})
	if err != nil {
		writeError(w, err)
		return
	}
	if len(res.GetItems()) == 0 {
		writeNoContent(w)
		return
	}
	out := make(map[string]configItemJSON, len(res.GetItems()))
	for k, it := range res.GetItems() {
		out[k] = configItemJSON{Value: it.GetValue(), Version: it.GetVersion(), Metadata: it.GetMetadata()}
	}
	writeJSON(w, out)
}

func (h *Handler) subscribeConfiguration(w http.ResponseWriter, r *http.Request, store string) {
	res, err := h.core.SubscribeConfigurationApp(r.Context(), &runtimev1.SubscribeConfigurationRequest{
		StoreName: store, Keys: r.URL.Query()["key"], Metadata: queryMetadata(r.URL),
	})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, struct {
		ID string `json:"id"`
	}{res.GetId()})
}

// unsubscribeJSON is the unsubscribe answer, {"ok":…} with the failure's
// message.
type unsubscribeJSON struct {
	OK      bool   `json:"ok"`
	Message string `json:"message,omitempty"`
}

func (h *Handler) unsubscribeConfiguration(w http.ResponseWriter, r *http.Request, store, id string) {
	res, err := h.core.UnsubscribeConfiguration(r.Context(), &runtimev1.UnsubscribeConfigurationRequest{StoreName: store, Id: id})
	if err != nil {
		writeUnsubscribeError(w, err)
		return
	}
	writeJSON(w, unsubscribeJSON{OK: res.GetOk(), Message: res.GetMessage()})
}

// writeUnsubscribeError answers a failed unsubscribe in the response's own
// shape, as Dapr does; store lookup errors keep the usual error body.
func writeUnsubscribeError(w http.ResponseWriter, err error) {
	e := apierr.From(err)
	if e.Code != apierr.CodeConfigurationUnsubscribe {
		writeError(w, err)
		return
	}
	body, _ := json.Marshal(unsubscribeJSON{OK: false, Message: e.Message})
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(e.HTTPStatus)
	_, _ = w.Write(body)
}
