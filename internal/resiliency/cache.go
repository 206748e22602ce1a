package resiliency

import "sync"

// breakerSet holds the live breakers of targets that are only known at
// call time (app ids, actor ids, component names under a default policy).
// It is bounded: when full, an arbitrary breaker is dropped to make room
// (its target starts again from a closed breaker), which keeps memory
// bounded when callers name many targets.
type breakerSet[K comparable] struct {
	mu    sync.Mutex
	m     map[K]*breaker
	limit int
}

func newBreakerSet[K comparable](limit int) *breakerSet[K] {
	return &breakerSet[K]{m: make(map[K]*breaker), limit: max(limit, 1)}
}

// get returns the breaker of key, making it with mk the first time.
func (s *breakerSet[K]) get(key K, mk func() *breaker) *breaker {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.m[key]; ok {
		return b
	}
	if len(s.m) >= s.limit {
		for k := range s.m {
			delete(s.m, k)
			break
		}
	}
	b := mk()
	s.m[key] = b
	return b
}

// len is the number of live breakers.
func (s *breakerSet[K]) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
