package locktest

import (
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/lock"
)

// testExpiry runs its cases in parallel: each waits about a second.
func (h *harness) testExpiry(t *testing.T) {
	t.Run("ReleasesToAnotherOwner", func(t *testing.T) {
		t.Parallel()
		res := h.resource(t, "r")
		start := time.Now()
		h.mustLock(t, h.a, res, "owner-1", 1, true)
		h.mustLock(t, h.b, res, "owner-2", 1, false)
		took := h.waitLock(t, h.b, res, "owner-2", 10, 3*time.Second)
		// Well before the second is up the lock must still have held.
		if elapsed := took.Sub(start); elapsed < 800*time.Millisecond {
			t.Fatalf("another owner took the lock %v after a 1s lock was granted", elapsed)
		}
		h.mustUnlock(t, h.a, res, "owner-1", lock.UnlockLockBelongsToOthers)
		h.mustUnlock(t, h.b, res, "owner-2", lock.UnlockSuccess)
	})
	t.Run("ExpiredUnlocksAsMissing", func(t *testing.T) {
		t.Parallel()
		res := h.resource(t, "r")
		h.mustLock(t, h.a, res, "owner-1", 1, true)
		time.Sleep(1200 * time.Millisecond)
		h.mustUnlock(t, h.a, res, "owner-1", lock.UnlockLockDoesNotExist)
	})
	t.Run("SameOwnerRetakesAfterExpiry", func(t *testing.T) {
		t.Parallel()
		res := h.resource(t, "r")
		h.mustLock(t, h.a, res, "owner-1", 1, true)
		h.waitLock(t, h.b, res, "owner-1", 10, 3*time.Second)
		h.mustUnlock(t, h.a, res, "owner-1", lock.UnlockSuccess)
	})
}

// waitLock polls TryLock until it succeeds and returns when it did; it
// fails the test after max.
func (h *harness) waitLock(t *testing.T, s lock.Store, res, owner string, expiry int32, max time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(max)
	for {
		ok, err := s.TryLock(ctx(t), res, owner, expiry)
		if err != nil {
			t.Fatalf("TryLock(%q, %q): %v", res, owner, err)
		}
		if ok {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("TryLock(%q, %q) still false %v after the lock should have expired", res, owner, max)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
