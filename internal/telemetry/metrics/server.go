package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server is the Prometheus endpoint on --metrics-port.
type Server struct {
	srv  *http.Server
	done chan struct{}
}

// Serve starts serving m on ln (GET /metrics; / answers the same, as
// daprd's exporter does) and returns at once. Stop it with Shutdown.
func Serve(m *Metrics, ln net.Listener, log *slog.Logger) *Server {
	mux := http.NewServeMux()
	h := m.Handler()
	mux.Handle("/metrics", h)
	mux.Handle("/", h)
	s := &Server{
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		done: make(chan struct{}),
	}
	log.Info("metrics server listening", "address", ln.Addr().String())
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "error", err)
		}
	}()
	return s
}

// Shutdown stops accepting scrapes, waits for those in flight until ctx
// ends, then closes the server and waits for its goroutine.
func (s *Server) Shutdown(ctx context.Context) error {
	if s == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
		err = fmt.Errorf("metrics server shutdown: %w", err)
	}
	<-s.done
	return err
}
