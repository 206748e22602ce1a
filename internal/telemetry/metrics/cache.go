package metrics

import (
	"sync"
	"sync/atomic"
)

// maxCached bounds a children cache; past it, lookups go to the client
// library each time (slower, still correct).
const maxCached = 4096

// children caches the resolved instruments of label tuples, so a hot path
// looks up one immutable map (no lock, no allocation, rules applied once
// per tuple) instead of hashing label values in every instrument. Writers
// copy the map; label tuples are few and bounded, so copies are rare.
type children[K comparable, V any] struct {
	m     atomic.Pointer[map[K]V]
	mu    sync.Mutex // serialises writers
	limit int        // entries kept; 0 means maxCached
}

func (c *children[K, V]) lookup(k K) (V, bool) {
	if mp := c.m.Load(); mp != nil {
		v, ok := (*mp)[k]
		return v, ok
	}
	var zero V
	return zero, false
}

// store adds k unless the cache is full; it reports whether k is cached.
func (c *children[K, V]) store(k K, v V) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	var old map[K]V
	if mp := c.m.Load(); mp != nil {
		old = *mp
	}
	if _, ok := old[k]; ok {
		return true
	}
	limit := c.limit
	if limit <= 0 {
		limit = maxCached
	}
	if len(old) >= limit {
		return false
	}
	next := make(map[K]V, len(old)+1)
	for ok, ov := range old {
		next[ok] = ov
	}
	next[k] = v
	c.m.Store(&next)
	return true
}

// cached returns the value of k, building it on a miss and keeping it under
// the key build returns (a copy of k whose strings no longer share memory
// with the request). A build that fails (ok false) is not kept, so it is
// tried again next time. Hot paths use it for the instruments of a label
// tuple: a hit is one lock-free map read, where the client library would
// hash the label values and take a lock on every call.
func cached[K comparable, V any](c *children[K, V], k K, build func() (K, V, bool)) (V, bool) {
	if v, ok := c.lookup(k); ok {
		return v, true
	}
	keep, v, ok := build()
	if ok {
		c.store(keep, v)
	}
	return v, ok
}
