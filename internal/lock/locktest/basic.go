package locktest

import (
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/lock"
)

func (h *harness) testLockUnlock(t *testing.T) {
	names := []struct{ name, res string }{
		{"plain", "r"},
		{"spaces", "a resource with spaces"},
		{"unicode", "ресурс-✓-資源"},
		{"punctuation", "orders/42:{tag}*?[x]"},
		{"long", strings.Repeat("x", 1000)},
	}
	for _, n := range names {
		t.Run(n.name, func(t *testing.T) {
			res := h.resource(t, n.res)
			h.mustLock(t, h.a, res, "owner-1", 10, true)
			h.mustUnlock(t, h.a, res, "owner-1", lock.UnlockSuccess)
			// Released: someone else may take it now.
			h.mustLock(t, h.a, res, "owner-2", 10, true)
			h.mustUnlock(t, h.a, res, "owner-2", lock.UnlockSuccess)
		})
	}
}

func (h *harness) testHeldByAnother(t *testing.T) {
	res := h.resource(t, "r")
	h.mustLock(t, h.a, res, "owner-1", 10, true)
	h.mustLock(t, h.a, res, "owner-2", 10, false)
	h.mustUnlock(t, h.a, res, "owner-1", lock.UnlockSuccess)
}

// testRelockSameOwner: taking one's own unexpired lock again fails, as in
// Dapr's Redis store (it is not re-entrant and does not extend the expiry).
func (h *harness) testRelockSameOwner(t *testing.T) {
	res := h.resource(t, "r")
	h.mustLock(t, h.a, res, "owner-1", 10, true)
	h.mustLock(t, h.a, res, "owner-1", 10, false)
	h.mustLock(t, h.b, res, "owner-1", 10, false)
	// One unlock releases it.
	h.mustUnlock(t, h.a, res, "owner-1", lock.UnlockSuccess)
	h.mustUnlock(t, h.a, res, "owner-1", lock.UnlockLockDoesNotExist)
}

func (h *harness) testUnlockNonOwner(t *testing.T) {
	res := h.resource(t, "r")
	h.mustLock(t, h.a, res, "owner-1", 10, true)
	h.mustUnlock(t, h.a, res, "owner-2", lock.UnlockLockBelongsToOthers)
	h.mustUnlock(t, h.b, res, "", lock.UnlockLockBelongsToOthers)
	// The failed unlocks left the lock with its owner.
	h.mustLock(t, h.b, res, "owner-2", 10, false)
	h.mustUnlock(t, h.a, res, "owner-1", lock.UnlockSuccess)
}

func (h *harness) testUnlockMissing(t *testing.T) {
	res := h.resource(t, "r")
	h.mustUnlock(t, h.a, res, "owner-1", lock.UnlockLockDoesNotExist)
	h.mustLock(t, h.a, res, "owner-1", 10, true)
	h.mustUnlock(t, h.a, res, "owner-1", lock.UnlockSuccess)
	h.mustUnlock(t, h.a, res, "owner-1", lock.UnlockLockDoesNotExist)
}

func (h *harness) testIndependent(t *testing.T) {
	r1, r2 := h.resource(t, "r1"), h.resource(t, "r2")
	h.mustLock(t, h.a, r1, "owner-1", 10, true)
	h.mustLock(t, h.a, r2, "owner-2", 10, true)
	h.mustUnlock(t, h.a, r2, "owner-1", lock.UnlockLockBelongsToOthers)
	h.mustUnlock(t, h.a, r1, "owner-1", lock.UnlockSuccess)
	h.mustUnlock(t, h.a, r2, "owner-2", lock.UnlockSuccess)
}

// testAcrossInstances: ownership belongs to the owner string, not to the
// connection that took the lock, so any sidecar can release it.
func (h *harness) testAcrossInstances(t *testing.T) {
	res := h.resource(t, "r")
	h.mustLock(t, h.a, res, "owner-1", 10, true)
	h.mustLock(t, h.b, res, "owner-2", 10, false)
	h.mustUnlock(t, h.b, res, "owner-2", lock.UnlockLockBelongsToOthers)
	h.mustUnlock(t, h.b, res, "owner-1", lock.UnlockSuccess)
	h.mustLock(t, h.b, res, "owner-2", 10, true)
	h.mustLock(t, h.a, res, "owner-1", 10, false)
	h.mustUnlock(t, h.a, res, "owner-2", lock.UnlockSuccess)
}
