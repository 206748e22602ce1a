package statetest

import (
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/state"
)

// expiryDeadline is how long a ttlInSeconds=1 key may survive: stores with
// second-granularity expiry need up to ~2s, plus slack for slow CI.
const expiryDeadline = 3500 * time.Millisecond

func (h *harness) testTTL(t *testing.T) {
	h.require(t, state.FeatureTTL)
	t.Run("invalid-ttl", h.ttlInvalid)
	t.Run("expire-time-metadata", h.ttlExpireTime)
	t.Run("expiry", h.ttlExpiry)
}

func (h *harness) ttlInvalid(t *testing.T) {
	k := h.key(t, "ttl-bad")
	err := h.set(t, k, []byte(`1`), withTTL("abc"))
	expectInvalidRequest(t, "Set("+k+") with ttlInSeconds=abc", err)
	h.expectMissing(t, k)
}

func (h *harness) ttlExpireTime(t *testing.T) {
	k, plain := h.key(t, "ttl-meta"), h.key(t, "ttl-none")
	h.mustSet(t, k, []byte(`1`), withTTL("60"))
	h.mustSet(t, plain, []byte(`1`))
	now := time.Now()

	res := h.mustGet(t, k)
	v, ok := res.Metadata[state.MetaTTLExpireTime]
	switch {
	case !ok && h.cfg.TTLExpireTimeInGet:
		t.Errorf("Get(%q) with ttlInSeconds=60: metadata %v lacks %s", k, res.Metadata, state.MetaTTLExpireTime)
	case ok:
		exp, err := time.Parse(time.RFC3339, v)
		if err != nil {
			t.Fatalf("Get(%q): %s=%q is not RFC3339: %v", k, state.MetaTTLExpireTime, v, err)
		}
		// Generous bounds: the backend clock and second rounding may differ.
		lo, hi := now.Add(50*time.Second), now.Add(70*time.Second)
		if exp.Before(lo) || exp.After(hi) {
			t.Errorf("Get(%q): %s=%s, want about %s (ttlInSeconds=60)", k, state.MetaTTLExpireTime, v, now.Add(time.Minute).UTC().Format(time.RFC3339))
		}
	}
	if res := h.mustGet(t, plain); h.cfg.TTLExpireTimeInGet && res.Metadata[state.MetaTTLExpireTime] != "" {
		t.Errorf("Get(%q) without TTL: metadata %s=%q, want none", plain, state.MetaTTLExpireTime, res.Metadata[state.MetaTTLExpireTime])
	}
}

// ttlExpiry checks expiring and non-expiring keys on one shared timeline so
// the subtest waits for a single expiry period.
func (h *harness) ttlExpiry(t *testing.T) {
	expiring := []string{h.key(t, "ttl-1s")}
	start := time.Now()
	h.mustSet(t, expiring[0], []byte(`"a"`), withTTL("1"))
	h.expectValue(t, expiring[0], []byte(`"a"`), false)

	never := h.key(t, "ttl-never")
	h.mustSet(t, never, []byte(`"b"`), withTTL("-1"))
	cleared := h.key(t, "ttl-cleared")
	h.mustSet(t, cleared, []byte(`"c1"`), withTTL("1"))
	h.mustSet(t, cleared, []byte(`"c2"`))
	persisted := h.key(t, "ttl-persisted")
	h.mustSet(t, persisted, []byte(`"d1"`), withTTL("1"))
	h.mustSet(t, persisted, []byte(`"d2"`), withTTL("-1"))
	if tx, ok := h.store.(state.Transactional); ok && h.has(state.FeatureTransactional) {
		k := h.key(t, "ttl-tx")
		req := state.TransactionRequest{Operations: []state.Operation{upsert(k, []byte(`"e"`), withTTL("1"))}}
		if err := tx.Multi(ctx(t), req); err != nil {
			t.Fatalf("Multi(upsert %q with ttlInSeconds=1): %v", k, err)
		}
		expiring = append(expiring, k)
	}
	lastTTLWrite := time.Now()

	for _, k := range expiring {
		h.waitExpired(t, k, start)
	}
	// The keys whose TTL was removed were first written with
	// ttlInSeconds=1; make sure that second has passed before checking them.
	if wait := time.Until(lastTTLWrite.Add(1300 * time.Millisecond)); wait > 0 {
		time.Sleep(wait)
	}
	h.expectValue(t, never, []byte(`"b"`), false)
	h.expectValue(t, cleared, []byte(`"c2"`), false)
	h.expectValue(t, persisted, []byte(`"d2"`), false)
}

// waitExpired polls key until it is gone or expiryDeadline has passed.
func (h *harness) waitExpired(t *testing.T, key string, start time.Time) {
	t.Helper()
	for {
		res, err := h.get(t, key)
		if err != nil {
			t.Errorf("Get(%q) while waiting for expiry: %v", key, err)
			return
		}
		if !res.Found {
			return
		}
		if time.Since(start) > expiryDeadline {
			t.Errorf("key %q with ttlInSeconds=1 still present after %s (data %s)", key, expiryDeadline, show(res.Data))
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
