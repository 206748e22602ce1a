package statetest

import (
	"fmt"
	"testing"

	"github.com/outrigger/outrigger/internal/state"
)

func (h *harness) testOptions(t *testing.T) {
	bad := []struct {
		name string
		opts state.Options
	}{
		{"unknown-concurrency", state.Options{Concurrency: "bogus"}},
		{"unknown-consistency", state.Options{Consistency: "bogus"}},
	}
	for _, c := range bad {
		t.Run("set-"+c.name, func(t *testing.T) {
			k := h.key(t, "opts")
			err := h.store.Set(ctx(t), state.SetRequest{Key: k, Value: []byte(`1`), Options: c.opts})
			expectInvalidRequest(t, fmt.Sprintf("Set(%q) with options %+v", k, c.opts), err)
			h.expectMissing(t, k)
		})
		t.Run("delete-"+c.name, func(t *testing.T) {
			k := h.key(t, "opts")
			h.mustSet(t, k, []byte(`1`))
			err := h.store.Delete(ctx(t), state.DeleteRequest{Key: k, Options: c.opts})
			expectInvalidRequest(t, fmt.Sprintf("Delete(%q) with options %+v", k, c.opts), err)
			h.expectValue(t, k, []byte(`1`), false)
		})
	}
	t.Run("valid-options", func(t *testing.T) {
		k := h.key(t, "opts")
		o := state.Options{Concurrency: state.LastWrite, Consistency: state.Strong}
		if err := h.store.Set(ctx(t), state.SetRequest{Key: k, Value: []byte(`1`), Options: o}); err != nil {
			t.Fatalf("Set(%q) with options %+v: %v", k, o, err)
		}
		o.Consistency = state.Eventual
		if _, err := h.store.Get(ctx(t), state.GetRequest{Key: k, Options: o}); err != nil {
			t.Errorf("Get(%q) with options %+v: %v", k, o, err)
		}
	})
}

func (h *harness) testBulk(t *testing.T) {
	t.Run("BulkGet", h.testBulkGet)
	t.Run("BulkSet", h.testBulkSet)
	t.Run("BulkDelete", h.testBulkDelete)
}

func (h *harness) testBulkGet(t *testing.T) {
	bg, ok := h.store.(state.BulkGetter)
	if !ok {
		t.Skip("store does not implement state.BulkGetter")
	}
	present := map[string][]byte{}
	var reqs []state.GetRequest
	for i := range 3 {
		k := h.key(t, "bulkget")
		present[k] = fmt.Appendf(nil, `{"i":%d}`, i)
		h.mustSet(t, k, present[k])
		reqs = append(reqs, state.GetRequest{Key: k})
	}
	missing := h.key(t, "bulkget-missing")
	reqs = append(reqs, state.GetRequest{Key: missing})

	items, err := bg.BulkGet(ctx(t), reqs)
	if err != nil {
		t.Fatalf("BulkGet(%d keys): %v", len(reqs), err)
	}
	got := map[string]state.BulkItem{}
	for _, it := range items {
		if _, dup := got[it.Key]; dup {
			t.Errorf("BulkGet: key %q returned twice", it.Key)
		}
		got[it.Key] = it
	}
	if len(items) != len(reqs) {
		t.Errorf("BulkGet returned %d items, want %d (one per requested key)", len(items), len(reqs))
	}
	for k, want := range present {
		h.checkBulkItem(t, got, k, want)
	}
	if it, ok := got[missing]; !ok {
		t.Errorf("BulkGet: missing key %q not in the result", missing)
	} else if it.Found || it.Error != "" {
		t.Errorf("BulkGet: missing key %q: Found=%v Error=%q, want Found=false and no error", missing, it.Found, it.Error)
	}
}

func (h *harness) checkBulkItem(t *testing.T, got map[string]state.BulkItem, k string, want []byte) {
	t.Helper()
	it, ok := got[k]
	switch {
	case !ok:
		t.Errorf("BulkGet: key %q not in the result", k)
	case it.Error != "":
		t.Errorf("BulkGet: key %q: error %q", k, it.Error)
	case !it.Found:
		t.Errorf("BulkGet: key %q: Found=false, want %s", k, show(want))
	case !h.sameValue(it.Data, want, false):
		t.Errorf("BulkGet: key %q = %s, want %s", k, show(it.Data), show(want))
	case h.has(state.FeatureETag) && it.ETag == "":
		t.Errorf("BulkGet: key %q: empty ETag from a store advertising ETAG", k)
	}
}

func (h *harness) testBulkSet(t *testing.T) {
	bs, ok := h.store.(state.BulkSetter)
	if !ok {
		t.Skip("store does not implement state.BulkSetter")
	}
	var reqs []state.SetRequest
	for i := range 5 {
		k := h.key(t, "bulkset")
		reqs = append(reqs, state.SetRequest{Key: k, Value: fmt.Appendf(nil, `{"i":%d}`, i)})
	}
	if err := bs.BulkSet(ctx(t), reqs); err != nil {
		t.Fatalf("BulkSet(%d keys): %v", len(reqs), err)
	}
	for _, r := range reqs {
		h.expectValue(t, r.Key, r.Value, false)
	}
	if !h.has(state.FeatureETag) {
		return
	}
	// A stale ETag in one request must surface as an ETag error.
	stale, _ := h.staleETag(t, reqs[0].Key)
	bad := []state.SetRequest{{Key: reqs[0].Key, Value: []byte(`"x"`), ETag: &stale}}
	expectETagErr(t, "BulkSet with a stale etag", bs.BulkSet(ctx(t), bad), state.ETagMismatch)
}

func (h *harness) testBulkDelete(t *testing.T) {
	bd, ok := h.store.(state.BulkDeleter)
	if !ok {
		t.Skip("store does not implement state.BulkDeleter")
	}
	var reqs []state.DeleteRequest
	for range 5 {
		k := h.key(t, "bulkdel")
		h.mustSet(t, k, []byte(`1`))
		reqs = append(reqs, state.DeleteRequest{Key: k})
	}
	reqs = append(reqs, state.DeleteRequest{Key: h.key(t, "bulkdel-missing")})
	if err := bd.BulkDelete(ctx(t), reqs); err != nil {
		t.Fatalf("BulkDelete(%d keys, one missing): %v", len(reqs), err)
	}
	for _, r := range reqs {
		h.expectMissing(t, r.Key)
	}
}
