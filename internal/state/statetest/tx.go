package statetest

import (
	"fmt"
	"testing"

	"github.com/outrigger/outrigger/internal/state"
)

func upsert(key string, val []byte, opts ...setOpt) state.Operation {
	return state.Operation{Type: state.OpUpsert, Set: setReq(key, val, opts...)}
}

func remove(key string, etag *string) state.Operation {
	return state.Operation{Type: state.OpDelete, Delete: state.DeleteRequest{Key: key, ETag: etag}}
}

func (h *harness) testTransactions(t *testing.T) {
	h.require(t, state.FeatureTransactional)
	tx, ok := h.store.(state.Transactional)
	if !ok {
		t.Fatal("store advertises TRANSACTIONAL but does not implement state.Transactional")
	}
	multi := func(t *testing.T, ops ...state.Operation) error {
		t.Helper()
		return tx.Multi(ctx(t), state.TransactionRequest{Operations: ops})
	}
	t.Run("upserts-and-deletes", func(t *testing.T) { h.txApply(t, multi) })
	t.Run("same-key-in-order", func(t *testing.T) { h.txOrder(t, multi) })
	t.Run("empty", func(t *testing.T) {
		if err := multi(t); err != nil {
			t.Errorf("Multi with no operations: %v, want nil", err)
		}
	})
	t.Run("etags", func(t *testing.T) {
		h.require(t, state.FeatureETag)
		h.txETags(t, multi)
	})
	t.Run("all-or-nothing", func(t *testing.T) {
		h.require(t, state.FeatureETag)
		h.txAtomic(t, multi)
	})
	t.Run("first-write", func(t *testing.T) {
		h.require(t, state.FeatureETag)
		h.txFirstWrite(t, multi)
	})
	t.Run("many-ops", func(t *testing.T) { h.txMany(t, multi) })
}

type multiFunc func(t *testing.T, ops ...state.Operation) error

func (h *harness) txApply(t *testing.T, multi multiFunc) {
	k1, k2, k3 := h.key(t, "tx-upd"), h.key(t, "tx-del"), h.key(t, "tx-new")
	h.mustSet(t, k1, []byte(`"old"`))
	h.mustSet(t, k2, []byte(`"doomed"`))
	bin := []byte{0xff, 0x00, 0xfe}
	err := multi(t,
		upsert(k1, []byte(`{"new":true}`)),
		remove(k2, nil),
		upsert(k3, bin, binary()),
	)
	if err != nil {
		t.Fatalf("Multi(upsert %q, delete %q, upsert %q): %v", k1, k2, k3, err)
	}
	h.expectValue(t, k1, []byte(`{"new":true}`), false)
	h.expectMissing(t, k2)
	h.expectValue(t, k3, bin, true)
}

func (h *harness) txOrder(t *testing.T, multi multiFunc) {
	k, j := h.key(t, "tx-order"), h.key(t, "tx-order")
	err := multi(t,
		upsert(k, []byte(`1`)),
		upsert(k, []byte(`2`)),
		upsert(j, []byte(`1`)),
		remove(j, nil),
	)
	if err != nil {
		t.Fatalf("Multi(upsert %q twice, upsert+delete %q): %v", k, j, err)
	}
	h.expectValue(t, k, []byte(`2`), false)
	h.expectMissing(t, j)
}

func (h *harness) txETags(t *testing.T, multi multiFunc) {
	up, del := h.key(t, "tx-etag-up"), h.key(t, "tx-etag-del")
	h.mustSet(t, up, []byte(`"v1"`))
	h.mustSet(t, del, []byte(`"v1"`))
	eUp, eDel := h.mustETag(t, up), h.mustETag(t, del)
	if err := multi(t, upsert(up, []byte(`"v2"`), withETag(eUp)), remove(del, &eDel)); err != nil {
		t.Fatalf("Multi with current etags (%q=%q, %q=%q): %v", up, eUp, del, eDel, err)
	}
	h.expectValue(t, up, []byte(`"v2"`), false)
	h.expectMissing(t, del)
}

func (h *harness) txAtomic(t *testing.T, multi multiFunc) {
	newKey, delKey, staleKey := h.key(t, "tx-new"), h.key(t, "tx-keep"), h.key(t, "tx-stale")
	h.mustSet(t, delKey, []byte(`"keep me"`))
	stale, _ := h.staleETag(t, staleKey)
	err := multi(t,
		upsert(newKey, []byte(`"should not exist"`)),
		remove(delKey, nil),
		upsert(staleKey, []byte(`"v3"`), withETag(stale)),
	)
	expectETagErr(t, "Multi with a stale etag in its last operation", err, state.ETagMismatch)
	h.expectMissing(t, newKey)
	h.expectValue(t, delKey, []byte(`"keep me"`), false)
	h.expectValue(t, staleKey, []byte(`"v2"`), false)

	// Same with a stale delete.
	err = multi(t, upsert(newKey, []byte(`"no"`)), remove(staleKey, &stale))
	expectETagErr(t, "Multi with a stale etag on a delete", err, state.ETagMismatch)
	h.expectMissing(t, newKey)
	h.expectValue(t, staleKey, []byte(`"v2"`), false)
}

func (h *harness) txFirstWrite(t *testing.T, multi multiFunc) {
	exists, fresh, other := h.key(t, "tx-fw-exists"), h.key(t, "tx-fw-fresh"), h.key(t, "tx-fw-other")
	h.mustSet(t, exists, []byte(`"v1"`))
	err := multi(t,
		upsert(other, []byte(`"no"`)),
		upsert(exists, []byte(`"v2"`), withConcurrency(state.FirstWrite)),
	)
	expectETagErr(t, "Multi with first-write upsert of an existing key", err, state.ETagMismatch)
	h.expectValue(t, exists, []byte(`"v1"`), false)
	h.expectMissing(t, other)

	if err := multi(t, upsert(fresh, []byte(`"v1"`), withConcurrency(state.FirstWrite))); err != nil {
		t.Fatalf("Multi with first-write upsert of missing key %q: %v", fresh, err)
	}
	h.expectValue(t, fresh, []byte(`"v1"`), false)
}

func (h *harness) txMany(t *testing.T, multi multiFunc) {
	n := 50
	if l, ok := h.store.(state.TransactionLimiter); ok && l.MaxOperations() > 0 && l.MaxOperations() < n {
		n = l.MaxOperations()
	}
	keys := make([]string, n)
	ups := make([]state.Operation, n)
	dels := make([]state.Operation, n)
	for i := range n {
		keys[i] = h.key(t, "tx-many")
		ups[i] = upsert(keys[i], fmt.Appendf(nil, `{"n":%d}`, i))
		dels[i] = remove(keys[i], nil)
	}
	if err := multi(t, ups...); err != nil {
		t.Fatalf("Multi with %d upserts: %v", n, err)
	}
	for i, k := range keys {
		h.expectValue(t, k, fmt.Appendf(nil, `{"n":%d}`, i), false)
	}
	if err := multi(t, dels...); err != nil {
		t.Fatalf("Multi with %d deletes: %v", n, err)
	}
	for _, k := range keys {
		h.expectMissing(t, k)
	}
}
