// Package statetest is the conformance suite every state store passes
// against its real backend.
package statetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/state"
)

// Config describes the store under test.
type Config struct {
	// New returns a fresh, un-initialised store.
	New func() state.Store
	// Metadata initialises it (use unique table/database names per test run).
	Metadata state.Metadata
	// JSONNormalized is set by stores whose backend re-encodes JSON values
	// (e.g. PostgreSQL JSONB): JSON values then compare semantically, raw
	// bytes still byte-exact.
	JSONNormalized bool
	// Restart, if set, disrupts the backend connection (kill client
	// connections, restart a server) so the suite can check recovery.
	Restart func(t *testing.T)
	// TTLExpireTimeInGet is set by stores whose Get returns the
	// ttlExpireTime metadata for keys with a TTL (all TTL stores in scope
	// except redis).
	TTLExpireTimeInGet bool
}

// opTimeout bounds every single store call so a hung backend fails the
// test instead of stalling the run.
const opTimeout = 15 * time.Second

// harness is one run of the suite against one initialised store.
type harness struct {
	cfg      Config
	store    state.Store
	features []state.Feature
	prefix   string // "statetest-<hex>||", unique per run
	seq      atomic.Int64
}

// Run runs the whole suite.
func Run(t *testing.T, cfg Config) {
	t.Helper()
	if cfg.New == nil {
		t.Fatal("statetest: Config.New is nil")
	}
	h := &harness{cfg: cfg, store: cfg.New(), prefix: newPrefix(t)}
	ctx, cancel := context.WithTimeout(t.Context(), opTimeout)
	defer cancel()
	if err := h.store.Init(ctx, cfg.Metadata); err != nil {
		t.Fatalf("Init(%q): %v", cfg.Metadata.Name, err)
	}
	h.features = h.store.Features()
	t.Logf("store features: %v, key prefix %q", h.features, h.prefix)

	t.Run("Features", h.testFeatures)
	t.Run("CRUD", h.testCRUD)
	t.Run("ETag", h.testETag)
	t.Run("Options", h.testOptions)
	t.Run("Bulk", h.testBulk)
	t.Run("Transactions", h.testTransactions)
	t.Run("TTL", h.testTTL)
	t.Run("Concurrency", h.testConcurrency)
	t.Run("LargeValue", h.testLargeValue)
	t.Run("UnicodeKeys", h.testUnicodeKeys)
	t.Run("Query", h.testQuery)
	t.Run("KeysLike", h.testKeysLike)
	t.Run("DeleteWithPrefix", h.testDeleteWithPrefix)
	t.Run("Restart", h.testRestart)
	t.Run("Close", h.testClose)
}

// newPrefix returns a fresh "statetest-<hex>||" key prefix.
func newPrefix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random run id: %v", err)
	}
	return "statetest-" + hex.EncodeToString(b) + state.KeySeparator
}

func (h *harness) has(f state.Feature) bool { return state.HasFeature(h.features, f) }

// require skips the calling test when the store does not advertise f.
func (h *harness) require(t *testing.T, f state.Feature) {
	t.Helper()
	if !h.has(f) {
		t.Skipf("store lacks %s", f)
	}
}

func (h *harness) testFeatures(t *testing.T) {
	if h.has(state.FeatureActor) {
		t.Errorf("Features() = %v: ACTOR is derived by the runtime and must not be returned by a store", h.features)
	}
	seen := map[state.Feature]bool{}
	for _, f := range h.features {
		if seen[f] {
			t.Errorf("Features() = %v: %s listed twice", h.features, f)
		}
		seen[f] = true
	}
}

func (h *harness) testClose(t *testing.T) {
	if err := h.store.Close(); err != nil {
		t.Errorf("Close() = %v, want nil", err)
	}
}

// key returns a new unique stored key under the run prefix and deletes it
// when the calling test ends.
func (h *harness) key(t *testing.T, name string) string {
	t.Helper()
	return h.keyUnder(t, h.prefix, name)
}

func (h *harness) keyUnder(t *testing.T, prefix, name string) string {
	t.Helper()
	k := fmt.Sprintf("%s%s-%d", prefix, name, h.seq.Add(1))
	t.Cleanup(func() {
		// t.Context is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if err := h.store.Delete(ctx, state.DeleteRequest{Key: k}); err != nil {
			t.Errorf("cleanup: Delete(%q): %v", k, err)
		}
	})
	return k
}

// ctx returns a per-operation context bound to the test.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), opTimeout)
	t.Cleanup(cancel)
	return c
}
