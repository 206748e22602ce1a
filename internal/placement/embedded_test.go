package placement

import (
	"context"
	"log/slog"
	"testing"
)

func TestEmbeddedTakesOverWhenOwnerExits(t *testing.T) {
	addr := freeAddr(t)
	log := slog.New(slog.DiscardHandler)
	start := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			serveEmbeddedOn(ctx, addr, log)
		}()
		return func() {
			cancel()
			<-done
		}
	}

	stopFirst := start()
	a := dialServed(t, addr, "a:1", []string{"T"})
	a.waitTable(map[string][]string{"T": {"a:1"}})

	// A second process finds the port taken and shares the first's service.
	stopSecond := start()
	defer stopSecond()
	b := dial(t, addr, "b:1", []string{"T"})
	a.waitTable(map[string][]string{"T": {"a:1", "b:1"}})
	b.waitTable(map[string][]string{"T": {"a:1", "b:1"}})

	// The owner exits: its streams end, and the second process takes the
	// port over; a sidecar that registers again gets tables from it.
	stopFirst()
	b.waitEnd()
	again := dialServed(t, addr, "b:1", []string{"T"})
	again.waitTable(map[string][]string{"T": {"b:1"}})
}

// dialServed registers a sidecar, retrying until a leader serves addr.
func dialServed(t *testing.T, addr, name string, types []string) *sidecar {
	t.Helper()
	var served *sidecar
	eventually(t, "a placement leader serves "+addr, func() bool {
		s, err := tryDial(t, addr, name, types)
		if err != nil {
			return false
		}
		select {
		case <-s.ended:
			return false
		case <-s.changed:
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.err != nil {
			return false
		}
		served = s
		return true
	})
	return served
}
