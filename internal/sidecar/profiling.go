package sidecar

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"
)

// startProfiling serves Go's pprof handlers on --profile-port for each API
// listen address, as daprd does with --enable-profiling.
func (s *servers) startProfiling(ctx context.Context, addrs []string, port int, log *slog.Logger) error {
	lns, err := listenAll(ctx, addrs, port)
	if err != nil {
		return fmt.Errorf("profiling server: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	for _, ln := range lns {
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		s.http = append(s.http, hs)
		s.serve(log, "profiling", ln.Addr(), func() error { return hs.Serve(ln) })
	}
	return nil
}
