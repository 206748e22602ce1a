// Package locktest is the conformance suite every lock store runs against
// its real backend: exclusive ownership under contention from several
// sidecars, expiry, and Dapr's unlock statuses.
//
// A store's test calls Run with a factory; each call of the factory is one
// more sidecar's view of the same backend.
package locktest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/outrigger/outrigger/internal/lock"
)

// NewStore returns an initialised store. All stores it returns share one
// backend (one Redis, one SQLite file), as the lock stores of several
// sidecars do; the factory closes each one when the test ends (t.Cleanup).
type NewStore func(t *testing.T) lock.Store

// harness holds two instances and the run's unique resource prefix.
type harness struct {
	newStore NewStore
	a, b     lock.Store // two sidecars
	prefix   string
}

// Run runs the suite.
func Run(t *testing.T, newStore NewStore) {
	h := &harness{
		newStore: newStore,
		a:        newStore(t),
		b:        newStore(t),
		// Unique per run, and shaped like the keys the core builds, so
		// runs never collide and stores see realistic keys.
		prefix: "lock||locktest-" + uuid.NewString() + "||",
	}
	t.Run("LockUnlock", h.testLockUnlock)
	t.Run("HeldByAnother", h.testHeldByAnother)
	t.Run("RelockBySameOwner", h.testRelockSameOwner)
	t.Run("UnlockByNonOwner", h.testUnlockNonOwner)
	t.Run("UnlockMissing", h.testUnlockMissing)
	t.Run("ResourcesIndependent", h.testIndependent)
	t.Run("AcrossInstances", h.testAcrossInstances)
	t.Run("Expiry", h.testExpiry)
	t.Run("Contention", h.testContention)
}

// resource returns a resource key unique to this run and test.
func (h *harness) resource(t *testing.T, name string) string {
	t.Helper()
	return h.prefix + strings.ReplaceAll(t.Name(), "/", ".") + "." + name
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func (h *harness) mustLock(t *testing.T, s lock.Store, res, owner string, expiry int32, want bool) {
	t.Helper()
	got, err := s.TryLock(ctx(t), res, owner, expiry)
	if err != nil {
		t.Fatalf("TryLock(%q, %q, %d): %v", res, owner, expiry, err)
	}
	if got != want {
		t.Fatalf("TryLock(%q, %q, %d) = %v, want %v", res, owner, expiry, got, want)
	}
}

func (h *harness) mustUnlock(t *testing.T, s lock.Store, res, owner string, want lock.UnlockStatus) {
	t.Helper()
	got, err := s.Unlock(ctx(t), res, owner)
	if err != nil {
		t.Fatalf("Unlock(%q, %q): %v", res, owner, err)
	}
	if got != want {
		t.Fatalf("Unlock(%q, %q) = %v, want %v", res, owner, got, want)
	}
}
