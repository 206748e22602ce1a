package placement

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkDissemination measures one full round (lock, update, unlock,
// each acknowledged by every host) after a host changes its actor types.
// Target: 10 hosts in ≤ 100ms per round.
func BenchmarkDissemination(b *testing.B) {
	for _, hosts := range []int{3, 10} {
		b.Run(fmt.Sprintf("hosts=%d", hosts), func(b *testing.B) {
			n := startLeader(b, Options{})
			sidecars := make([]*sidecar, hosts)
			for i := range sidecars {
				sidecars[i] = dial(b, n.addr, fmt.Sprintf("10.0.0.%d:50002", i+1), []string{"Cart", "Order"})
			}
			version := waitAllAt(b, sidecars, 1)
			b.ResetTimer()
			for i := range b.N {
				types := []string{"Cart", "Order"}
				if i%2 == 0 {
					types = append(types, "Extra")
				}
				sidecars[0].report(types)
				version = waitAllAt(b, sidecars, version+1)
			}
		})
	}
}

// waitAllAt waits until every sidecar has unlocked version want or later,
// and returns the lowest version they are at.
func waitAllAt(b *testing.B, sidecars []*sidecar, want uint64) uint64 {
	b.Helper()
	lowest := ^uint64(0)
	for _, s := range sidecars {
		deadline := time.After(waitFor)
		for {
			s.mu.Lock()
			v := s.version
			s.mu.Unlock()
			if v >= want {
				lowest = min(lowest, v)
				break
			}
			select {
			case <-s.changed:
			case <-deadline:
				b.Fatalf("sidecar %s stuck at version %d, want %d", s.name, v, want)
			}
		}
	}
	return lowest
}
