package cli

import (
	"context"
	"log/slog"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/options"
)

// TestRuntimeTuningStopsAndRestores starts both tuners, lets them sample,
// and checks stop returns with the process's settings as they were.
func TestRuntimeTuningStopsAndRestores(t *testing.T) {
	procs, gogc := runtime.GOMAXPROCS(0), debug.SetGCPercent(100)
	debug.SetGCPercent(gogc)
	for _, fixed := range []bool{false, true} {
		stop := startRuntimeTuning(context.Background(), slog.New(slog.DiscardHandler),
			options.Options{FixedGOMAXPROCS: fixed, FixedGOGC: fixed})
		time.Sleep(600 * time.Millisecond) // two samples of each
		done := make(chan struct{})
		go func() {
			stop()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("fixed=%v: stop did not return", fixed)
		}
		if got := runtime.GOMAXPROCS(0); got != procs {
			t.Errorf("fixed=%v: GOMAXPROCS %d after stop, want %d", fixed, got, procs)
		}
		if got := debug.SetGCPercent(gogc); got != gogc {
			t.Errorf("fixed=%v: GOGC %d after stop, want %d", fixed, got, gogc)
		}
	}
}
