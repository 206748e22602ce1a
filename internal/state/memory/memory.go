// Package memory is the state.in-memory store: a map guarded by a mutex,
// with decimal version-counter ETags, all-or-nothing transactions, TTLs
// (hidden on read, removed by a background sweeper) and the query API
// evaluated in Go. Data lives only as long as the process.
package memory

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/outrigger/outrigger/internal/state"
)

// defaultSweepInterval is how often expired keys are removed from memory.
// Reads never see them regardless, so this only bounds memory use.
const defaultSweepInterval = time.Second

// Store is the in-memory state store.
type Store struct {
	mu      sync.RWMutex
	items   map[string]*item
	version uint64 // last version handed out; ETags are never reused

	now           func() time.Time
	sweepInterval time.Duration

	lifecycle sync.Mutex
	started   bool
	stop      chan struct{}
	done      chan struct{}
}

// item is one stored value. Items are never modified in place: a write
// replaces the pointer, so readers may keep Data without copying under the
// lock.
type item struct {
	data    []byte
	binary  bool
	version uint64
	expires time.Time // zero: never
}

func (it *item) expired(now time.Time) bool {
	return !it.expires.IsZero() && !now.Before(it.expires)
}

// New returns an un-initialised in-memory store.
func New() state.Store { return newStore() }

func newStore() *Store {
	return &Store{
		items:         map[string]*item{},
		now:           time.Now,
		sweepInterval: defaultSweepInterval,
	}
}

// Init starts the expiry sweeper. The store takes no metadata.
func (s *Store) Init(_ context.Context, _ state.Metadata) error {
	s.lifecycle.Lock()
	defer s.lifecycle.Unlock()
	if s.started {
		return errors.New("in-memory state store: already initialised")
	}
	s.started = true
	s.stop = make(chan struct{})
	s.done = make(chan struct{})
	go s.sweepLoop(s.stop, s.done)
	return nil
}

// Features lists the capabilities; QUERY_API goes beyond Dapr's in-memory
// store, which has no query support.
func (s *Store) Features() []state.Feature {
	return []state.Feature{
		state.FeatureETag,
		state.FeatureTransactional,
		state.FeatureTTL,
		state.FeatureDeleteWithPrefix,
		state.FeatureKeysLike,
		state.FeatureQueryAPI,
	}
}

// Close stops the sweeper and waits for it. It is safe to call more than
// once, and before Init.
func (s *Store) Close() error {
	s.lifecycle.Lock()
	defer s.lifecycle.Unlock()
	if s.stop != nil {
		close(s.stop)
		<-s.done
		s.stop = nil
	}
	return nil
}

func (s *Store) sweepLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(s.sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.sweep()
		}
	}
}

// sweep removes expired items and reports how many it removed.
func (s *Store) sweep() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	n := 0
	for k, it := range s.items {
		if it.expired(now) {
			delete(s.items, k)
			n++
		}
	}
	return n
}

// live returns the unexpired item at key, or nil. Callers hold s.mu.
func (s *Store) live(key string, now time.Time) *item {
	it := s.items[key]
	if it == nil || it.expired(now) {
		return nil
	}
	return it
}
