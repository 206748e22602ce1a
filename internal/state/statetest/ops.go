package statetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/outrigger/outrigger/internal/state"
)

// setOpt adjusts a SetRequest built by the helpers below.
type setOpt func(*state.SetRequest)

func withETag(e string) setOpt        { return func(r *state.SetRequest) { r.ETag = &e } }
func withConcurrency(c string) setOpt { return func(r *state.SetRequest) { r.Options.Concurrency = c } }
func binary() setOpt                  { return func(r *state.SetRequest) { r.Binary = true } }

func withTTL(v string) setOpt {
	return func(r *state.SetRequest) {
		if r.Metadata == nil {
			r.Metadata = map[string]string{}
		}
		r.Metadata[state.MetaTTLInSeconds] = v
	}
}

func setReq(key string, val []byte, opts ...setOpt) state.SetRequest {
	r := state.SetRequest{Key: key, Value: val}
	for _, o := range opts {
		o(&r)
	}
	return r
}

func (h *harness) set(t *testing.T, key string, val []byte, opts ...setOpt) error {
	t.Helper()
	return h.store.Set(ctx(t), setReq(key, val, opts...))
}

func (h *harness) mustSet(t *testing.T, key string, val []byte, opts ...setOpt) {
	t.Helper()
	if err := h.set(t, key, val, opts...); err != nil {
		t.Fatalf("Set(%q, %s): %v", key, show(val), err)
	}
}

func (h *harness) get(t *testing.T, key string) (state.GetResponse, error) {
	t.Helper()
	return h.store.Get(ctx(t), state.GetRequest{Key: key})
}

func (h *harness) mustGet(t *testing.T, key string) state.GetResponse {
	t.Helper()
	res, err := h.get(t, key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return res
}

// mustETag reads key and returns its (non-empty) ETag.
func (h *harness) mustETag(t *testing.T, key string) string {
	t.Helper()
	res := h.mustGet(t, key)
	if !res.Found {
		t.Fatalf("Get(%q): Found=false, want the key to exist", key)
	}
	if res.ETag == "" {
		t.Fatalf("Get(%q): empty ETag from a store advertising ETAG", key)
	}
	return res.ETag
}

func (h *harness) del(t *testing.T, key string, etag *string) error {
	t.Helper()
	return h.store.Delete(ctx(t), state.DeleteRequest{Key: key, ETag: etag})
}

// expectValue checks that key exists with value want. JSON values (not
// binary) compare semantically when the store normalises JSON.
func (h *harness) expectValue(t *testing.T, key string, want []byte, isBinary bool) {
	t.Helper()
	res, err := h.get(t, key)
	if err != nil {
		t.Errorf("Get(%q): %v", key, err)
		return
	}
	if !res.Found {
		t.Errorf("Get(%q): Found=false, want %s", key, show(want))
		return
	}
	if !h.sameValue(res.Data, want, isBinary) {
		t.Errorf("Get(%q) = %s, want %s", key, show(res.Data), show(want))
	}
}

func (h *harness) expectMissing(t *testing.T, key string) {
	t.Helper()
	res, err := h.get(t, key)
	if err != nil {
		t.Errorf("Get(%q): %v, want Found=false and no error", key, err)
		return
	}
	if res.Found {
		t.Errorf("Get(%q): Found=true (data %s), want Found=false", key, show(res.Data))
	}
}

func (h *harness) sameValue(got, want []byte, isBinary bool) bool {
	if isBinary || !h.cfg.JSONNormalized {
		return bytes.Equal(got, want)
	}
	return sameJSON(got, want)
}

// sameJSON reports whether a and b decode to equal JSON values.
func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}

// expectETagErr checks that err is an ETagError of one of kinds.
func expectETagErr(t *testing.T, what string, err error, kinds ...state.ETagErrorKind) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: got nil error, want ETagError %s", what, kindNames(kinds))
		return
	}
	e, ok := state.AsETagError(err)
	if !ok {
		t.Errorf("%s: got %T %q, want ETagError %s", what, err, err, kindNames(kinds))
		return
	}
	for _, k := range kinds {
		if e.Kind == k {
			return
		}
	}
	t.Errorf("%s: got ETagError kind %s (%v), want %s", what, kindName(e.Kind), err, kindNames(kinds))
}

// expectInvalidRequest checks that err is a *state.InvalidRequestError.
func expectInvalidRequest(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: got nil error, want *state.InvalidRequestError", what)
		return
	}
	var ire *state.InvalidRequestError
	if !errors.As(err, &ire) {
		t.Errorf("%s: got %T %q, want *state.InvalidRequestError", what, err, err)
	}
}

func kindName(k state.ETagErrorKind) string {
	switch k {
	case state.ETagMismatch:
		return "ETagMismatch"
	case state.ETagInvalid:
		return "ETagInvalid"
	}
	return fmt.Sprintf("ETagErrorKind(%d)", int(k))
}

func kindNames(ks []state.ETagErrorKind) string {
	s := ""
	for i, k := range ks {
		if i > 0 {
			s += " or "
		}
		s += kindName(k)
	}
	return s
}

// show renders a value for failure messages, shortening large ones.
func show(b []byte) string {
	const limit = 200
	if b == nil {
		return "<nil>"
	}
	if len(b) > limit {
		return fmt.Sprintf("%q…(%d bytes)", b[:limit], len(b))
	}
	return fmt.Sprintf("%q", b)
}
