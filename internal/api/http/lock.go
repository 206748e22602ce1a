package http

import (
	"net/http"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/outrigger/outrigger/internal/api/apierr"
)

// lockRoutes serves POST /v1.0-alpha1/lock/{storeName} and
// /v1.0-alpha1/unlock/{storeName}; it reports false for anything else.
func (h *Handler) lockRoutes(w http.ResponseWriter, r *http.Request, rt route) bool {
	if len(rt.segs) != 2 || r.Method != http.MethodPost {
		return false
	}
	switch rt.segs[0] {
	case "lock":
		h.withStore(w, rt, 1, func(store string) { h.tryLock(w, r, store) })
	case "unlock":
		h.withStore(w, rt, 1, func(store string) { h.unlock(w, r, store) })
	default:
		return false
	}
	return true
}

// lockBodyOptions decode like Dapr's proto-backed routes: unknown fields
// ignored, JSON names and proto names both accepted.
var lockBodyOptions = protojson.UnmarshalOptions{DiscardUnknown: true}

// decodeLockBody reads a protojson body into m; an empty body is the zero
// request.
func (h *Handler) decodeLockBody(r *http.Request, m proto.Message) error {
	body, err := h.readBody(r)
	if err != nil {
		return err
	}
	if len(body) == 0 {
		return nil
	}
	if err := lockBodyOptions.Unmarshal(body, m); err != nil {
		return apierr.Malformed(err)
	}
	return nil
}

func (h *Handler) tryLock(w http.ResponseWriter, r *http.Request, store string) {
	req := &runtimev1.TryLockRequest{}
	if err := h.decodeLockBody(r, req); err != nil {
		writeError(w, err)
		return
	}
	// The path names the store, whatever the body says.
	req.StoreName = store
	res, err := h.core.TryLock(r.Context(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	// "success" is always present, false included.
	writeJSON(w, struct {
		Success bool `json:"success"`
	}{res.GetSuccess()})
}

func (h *Handler) unlock(w http.ResponseWriter, r *http.Request, store string) {
	req := &runtimev1.UnlockRequest{}
	if err := h.decodeLockBody(r, req); err != nil {
		writeError(w, err)
		return
	}
	req.StoreName = store
	res, err := h.core.Unlock(r.Context(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	// Numeric status, 0 (SUCCESS) included.
	writeJSON(w, struct {
		Status int32 `json:"status"`
	}{int32(res.GetStatus())})
}
