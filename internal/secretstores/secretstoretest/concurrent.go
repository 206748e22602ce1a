package secretstoretest

import (
	"maps"
	"slices"
	"sync"
	"testing"
)

// testConcurrentReads: the core serves many requests on one store at once.
// Readers interleave single and bulk reads; every result must be complete
// and right. Run with -race to catch unsynchronised state.
func (b Backend) testConcurrentReads(t *testing.T) {
	const readers, rounds = 8, 25
	want := fixture(b.MultiValued)
	s := b.newStore(t, want)
	names := slices.Sorted(maps.Keys(want))
	ctx := ctxFor(t)

	var wg sync.WaitGroup
	for r := range readers {
		wg.Go(func() {
			for i := range rounds {
				if i%5 == 0 {
					all, err := s.BulkGetSecret(ctx, nil)
					if err != nil {
						t.Errorf("reader %d: BulkGetSecret: %v", r, err)
						return
					}
					assertSecrets(t, "concurrent BulkGetSecret", all, want)
					continue
				}
				name := names[(r+i)%len(names)]
				got, err := s.GetSecret(ctx, name, nil)
				if err != nil {
					t.Errorf("reader %d: GetSecret(%q): %v", r, name, err)
					return
				}
				if !maps.Equal(got, want[name]) {
					t.Errorf("reader %d: GetSecret(%q) = %q, want %q", r, name, got, want[name])
				}
			}
		})
	}
	wg.Wait()
}
