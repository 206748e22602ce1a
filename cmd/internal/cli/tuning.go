package cli

import (
	"context"
	"log/slog"
	"sync"

	"github.com/outrigger/outrigger/internal/gcpace"
	"github.com/outrigger/outrigger/internal/options"
	"github.com/outrigger/outrigger/internal/procs"
)

// startRuntimeTuning runs the GOMAXPROCS governor and the GC pacer in the
// background, each unless the environment fixes its setting; stop ends them
// and restores both settings. Both belong to the process, so only a
// process's entry point starts them.
func startRuntimeTuning(ctx context.Context, log *slog.Logger, opts options.Options) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if !opts.FixedGOMAXPROCS {
		wg.Go(func() { procs.New(log).Run(ctx) })
	}
	if !opts.FixedGOGC {
		wg.Go(func() { gcpace.New(log).Run(ctx) })
	}
	return func() {
		cancel()
		wg.Wait()
	}
}
