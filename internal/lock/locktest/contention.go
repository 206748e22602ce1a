package locktest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/lock"
)

// Contention shape: instances simulate sidecars, each with several
// goroutines (requests) hammering one resource for a fixed time.
const (
	contentionInstances = 3
	contentionWorkers   = 4
	contentionDuration  = 1500 * time.Millisecond
)

// contention is the shared bookkeeping of one run.
type contention struct {
	res      string
	holders  atomic.Int32 // owners that believe they hold the lock now
	acquired atomic.Int64
	failed   atomic.Bool
	errs     chan error // first few errors; sends never block
}

func (c *contention) fail(err error) {
	c.failed.Store(true)
	select {
	case c.errs <- err:
	default:
	}
}

// testContention: every worker loops TryLock → (hold) → Unlock. A worker
// that gets the lock counts itself as a holder; the count must never
// exceed one, and every holder's Unlock must succeed (its lock was not
// taken from it).
func (h *harness) testContention(t *testing.T) {
	stores := []lock.Store{h.a, h.b}
	for len(stores) < contentionInstances {
		stores = append(stores, h.newStore(t))
	}
	c := &contention{res: h.resource(t, "r"), errs: make(chan error, 10)}
	stop := time.Now().Add(contentionDuration)
	var wg sync.WaitGroup
	for i, s := range stores {
		for w := range contentionWorkers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.work(s, fmt.Sprintf("sidecar-%d-worker-%d", i, w), stop)
			}()
		}
	}
	wg.Wait()
	close(c.errs)
	for err := range c.errs {
		t.Error(err)
	}
	if c.failed.Load() {
		return
	}
	// Progress: the lock was handed over many times, not hogged or stuck.
	if n := c.acquired.Load(); n < 10 {
		t.Fatalf("only %d acquisitions in %v with %d contenders", n, contentionDuration, contentionInstances*contentionWorkers)
	}
	t.Logf("%d acquisitions in %v by %d contenders", c.acquired.Load(), contentionDuration, contentionInstances*contentionWorkers)
}

func (c *contention) work(s lock.Store, owner string, stop time.Time) {
	for time.Now().Before(stop) && !c.failed.Load() {
		ok, err := tryLock(s, c.res, owner)
		if err != nil {
			c.fail(fmt.Errorf("%s: TryLock: %w", owner, err))
			return
		}
		if !ok {
			continue
		}
		c.acquired.Add(1)
		if n := c.holders.Add(1); n > 1 {
			c.fail(fmt.Errorf("%s got the lock while %d other owner(s) held it", owner, n-1))
		}
		// Hold it briefly so that a broken store has a window to grant it
		// again.
		time.Sleep(200 * time.Microsecond)
		c.holders.Add(-1)
		st, err := unlock(s, c.res, owner)
		if err != nil || st != lock.UnlockSuccess {
			c.fail(fmt.Errorf("%s: Unlock of a held lock = %v, %v; want SUCCESS", owner, st, err))
			return
		}
	}
}

// tryLock and unlock bound one call each (ctx would pile up a cleanup per
// call on the test).
func tryLock(s lock.Store, res, owner string) (bool, error) {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.TryLock(c, res, owner, 10)
}

func unlock(s lock.Store, res, owner string) (lock.UnlockStatus, error) {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.Unlock(c, res, owner)
}
