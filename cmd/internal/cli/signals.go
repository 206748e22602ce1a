package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// withSignals returns a context cancelled by the first SIGINT or SIGTERM,
// which starts a graceful shutdown. A second signal means the user does not
// want to wait: onForce (if any) runs, then the process exits with code 1.
func withSignals(parent context.Context, log *slog.Logger, onForce func()) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			log.Info("Received signal; shutting down", "signal", s.String())
			cancel()
		case <-done:
			return
		}
		select {
		case <-sigs:
			fmt.Fprintln(os.Stderr, "Second signal received; exiting without waiting")
			if onForce != nil {
				onForce()
			}
			os.Exit(1)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}
