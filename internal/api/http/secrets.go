package http

import (
	"net/http"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
)

// secretsRoutes handles GET /v1.0/secrets/{store}/{key|bulk}; it reports
// false when nothing matched. "bulk" is the bulk route, never a key, as in
// Dapr's router.
func (h *Handler) secretsRoutes(w http.ResponseWriter, r *http.Request, rt route) bool {
	if len(rt.segs) != 3 || r.Method != http.MethodGet {
		return false
	}
	if rt.segs[2] == "bulk" {
		h.withStore(w, rt, 1, func(store string) { h.getBulkSecret(w, r, store) })
		return true
	}
	h.withStoreKey(w, rt, func(store, key string) { h.getSecret(w, r, store, key) })
	return true
}

func (h *Handler) getSecret(w http.ResponseWriter, r *http.Request, store, key string) {
	res, err := h.core.GetSecret(r.Context(), &runtimev1.GetSecretRequest{StoreName: store, Key: key, Metadata: queryMetadata(r.URL)})
	if err != nil {
		writeError(w, err)
		return
	}
	if len(res.GetData()) == 0 {
		writeNoContent(w)
		return
	}
	writeJSON(w, res.GetData())
}

func (h *Handler) getBulkSecret(w http.ResponseWriter, r *http.Request, store string) {
	res, err := h.core.GetBulkSecret(r.Context(), &runtimev1.GetBulkSecretRequest{StoreName: store, Metadata: queryMetadata(r.URL)})
	if err != nil {
		writeError(w, err)
		return
	}
	if len(res.GetData()) == 0 {
		writeNoContent(w)
		return
	}
	out := make(map[string]map[string]string, len(res.GetData()))
	for name, s := range res.GetData() {
		data := s.GetSecrets()
		if data == nil {
			data = map[string]string{} // {} rather than null
		}
		out[name] = data
	}
	writeJSON(w, out)
}
