package statetest

import (
	"context"
	"crypto/rand"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/state"
)

// testConcurrency runs optimistic read-modify-write loops on one counter
// from several goroutines: with working ETags no increment is lost.
func (h *harness) testConcurrency(t *testing.T) {
	h.require(t, state.FeatureETag)
	const workers, increments = 8, 25
	k := h.key(t, "counter")
	h.mustSet(t, k, []byte("0"))

	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range increments {
				if err := h.increment(t, k); err != nil {
					t.Errorf("worker %d increment %d of %q: %v", w, i, k, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	h.expectValue(t, k, []byte(strconv.Itoa(workers*increments)), false)
}

// increment adds one to the counter at key, retrying on ETag mismatch.
func (h *harness) increment(t *testing.T, key string) error {
	const maxAttempts = 1000
	for range maxAttempts {
		done, err := h.tryIncrement(t, key)
		if done || err != nil {
			return err
		}
	}
	return &badCounter{attempts: maxAttempts}
}

// tryIncrement makes one get→conditional-set attempt; done is false when
// another writer won the race.
func (h *harness) tryIncrement(t *testing.T, key string) (done bool, err error) {
	c, cancel := context.WithTimeout(t.Context(), opTimeout)
	defer cancel()
	res, err := h.store.Get(c, state.GetRequest{Key: key})
	if err != nil {
		return false, err
	}
	n, err := strconv.Atoi(string(res.Data))
	if err != nil {
		return false, &badCounter{data: res.Data}
	}
	etag := res.ETag
	err = h.store.Set(c, state.SetRequest{Key: key, Value: []byte(strconv.Itoa(n + 1)), ETag: &etag})
	if e, ok := state.AsETagError(err); ok && e.Kind == state.ETagMismatch {
		return false, nil
	}
	return err == nil, err
}

type badCounter struct {
	data     []byte
	attempts int
}

func (e *badCounter) Error() string {
	if e.attempts > 0 {
		return "gave up after " + strconv.Itoa(e.attempts) + " etag mismatches"
	}
	return "counter value " + show(e.data) + " is not an integer"
}

func (h *harness) testLargeValue(t *testing.T) {
	val := make([]byte, 1<<20)
	if _, err := rand.Read(val); err != nil {
		t.Fatalf("random value: %v", err)
	}
	k := h.key(t, "large")
	h.mustSet(t, k, val, binary())
	h.expectValue(t, k, val, true)
}

func (h *harness) testUnicodeKeys(t *testing.T) {
	names := []string{
		"ключ-🔑-鍵 with spaces/and/slashes",
		`quote"apostrophe'back\slash`,
		"percent%20question?hash#amp&plus+",
		"tab\tnewline\nend",
	}
	for _, name := range names {
		k := h.key(t, name)
		val := []byte(strconv.Quote(name))
		h.mustSet(t, k, val)
		h.expectValue(t, k, val, false)
		if err := h.del(t, k, nil); err != nil {
			t.Errorf("Delete(%q): %v", k, err)
		}
		h.expectMissing(t, k)
	}
}

// restartWindow is how long the store may take to recover after Restart.
const restartWindow = 10 * time.Second

func (h *harness) testRestart(t *testing.T) {
	if h.cfg.Restart == nil {
		t.Skip("Config.Restart not set")
	}
	k := h.key(t, "restart")
	h.mustSet(t, k, []byte(`"before"`))
	h.cfg.Restart(t)

	retry(t, "Get("+k+") after restart", func() error {
		res, err := h.get(t, k)
		if err == nil && !res.Found {
			t.Fatalf("Get(%q) after restart: Found=false, want the value written before", k)
		}
		return err
	})
	retry(t, "Set("+k+") after restart", func() error {
		return h.set(t, k, []byte(`"after"`))
	})
	h.expectValue(t, k, []byte(`"after"`), false)
}

// retry calls f until it succeeds or restartWindow passes.
func retry(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(restartWindow)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, restartWindow, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
