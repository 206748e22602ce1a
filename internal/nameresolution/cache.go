package nameresolution

import (
	"sync"
	"time"
)

// Cache keeps the resolved addresses of app ids for a while and hands them
// out round-robin, so that Resolve stays off the network while the cache is
// warm. It is safe for concurrent use.
type Cache struct {
	mu      sync.Mutex
	entries map[string]*cacheEntry
	now     func() time.Time // replaced in tests
}

type cacheEntry struct {
	addrs   []string
	expires time.Time
	refresh time.Time // past this, Next suggests refreshing ahead of expiry
	next    int
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{entries: map[string]*cacheEntry{}, now: time.Now}
}

// Set stores the addresses of id for ttl, replacing what was there. An empty
// list or a non-positive ttl removes the entry.
func (c *Cache) Set(id string, addrs []string, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.purgeLocked(now)
	if len(addrs) == 0 || ttl <= 0 {
		delete(c.entries, id)
		return
	}
	e := &cacheEntry{addrs: append([]string(nil), addrs...), expires: now.Add(ttl), refresh: now.Add(ttl / 2)}
	if old, ok := c.entries[id]; ok {
		// Keep the rotation going instead of restarting at the first address
		// after every refresh, which would favour it.
		e.next = old.next % len(e.addrs)
	}
	c.entries[id] = e
}

// Get returns a copy of the live addresses of id.
func (c *Cache) Get(id string) ([]string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.liveLocked(id)
	if e == nil {
		return nil, false
	}
	return append([]string(nil), e.addrs...), true
}

// Next picks the next address of id in round-robin order. refresh reports
// that more than half of the entry's lifetime has passed, so the caller can
// look the id up again in the background before the entry expires.
func (c *Cache) Next(id string) (addr string, refresh, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.liveLocked(id)
	if e == nil {
		return "", false, false
	}
	addr = e.addrs[e.next%len(e.addrs)]
	e.next = (e.next + 1) % len(e.addrs)
	return addr, !c.now().Before(e.refresh), true
}

// Delete forgets id.
func (c *Cache) Delete(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, id)
}

// liveLocked returns the entry of id if it has not expired, dropping it
// otherwise.
func (c *Cache) liveLocked(id string) *cacheEntry {
	e, ok := c.entries[id]
	if !ok {
		return nil
	}
	if !c.now().Before(e.expires) {
		delete(c.entries, id)
		return nil
	}
	return e
}

// purgeLocked drops expired entries so ids that are never asked for again
// do not accumulate. Set is rare (once per refresh), so a full scan is fine.
func (c *Cache) purgeLocked(now time.Time) {
	for id, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, id)
		}
	}
}
