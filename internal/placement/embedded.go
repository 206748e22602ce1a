package placement

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"
)

// EmbeddedAddress is where `outrigger run` looks for a placement service
// when none is given, the address `dapr init` uses.
const (
	EmbeddedAddress       = "localhost:50005"
	embeddedListenAddress = "127.0.0.1:50005"
)

// embeddedRetry is how often a process whose placement port is taken checks
// whether the owner went away.
const embeddedRetry = time.Second

// ServeEmbedded keeps a single-node, in-memory placement service on
// 127.0.0.1:50005 for as long as ctx lives, so actors work on a laptop with
// nothing installed. When another process (another `outrigger run`, or
// Dapr's placement) holds the port, it serves nothing and takes the port
// over if that process goes away; sidecars then re-register by themselves,
// as membership is soft state. It returns when ctx ends.
func ServeEmbedded(ctx context.Context, log *slog.Logger) {
	serveEmbeddedOn(ctx, embeddedListenAddress, log)
}

func serveEmbeddedOn(ctx context.Context, addr string, log *slog.Logger) {
	log = log.With("component", "placement")
	announced := false
	for {
		lis, err := net.Listen("tcp", addr)
		if err == nil {
			log.Info("Started the embedded placement service", "address", addr)
			announced = false
			// A lone node always starts with an election; Raft warns about it.
			svc := New(Options{ID: "outrigger-embedded", Logger: log, RaftLogLevel: "error"})
			if err := svc.Run(ctx, lis); err != nil && !errors.Is(err, context.Canceled) {
				log.Warn("Embedded placement service stopped", "error", err)
			}
		} else if !announced {
			log.Info("Using the placement service already listening", "address", addr)
			announced = true
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(embeddedRetry):
		}
	}
}
