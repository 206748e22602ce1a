package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// traceSink is an OTLP/HTTP collector that accepts every export and keeps
// nothing but a count, so the tracing variants pay the sidecar's full cost
// of exporting while the collector's own cost stays in loadgen.
type traceSink struct {
	port    int
	exports atomic.Int64 // POSTs to /v1/traces answered
	srv     *http.Server
	wg      sync.WaitGroup
}

func startTraceSink() (*traceSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("trace sink listen: %w", err)
	}
	s := &traceSink{port: ln.Addr().(*net.TCPAddr).Port}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", s.handleTraces)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.srv.Serve(ln) // returns once close shuts it down
	}()
	return s, nil
}

// handleTraces discards the batch and answers an empty
// ExportTraceServiceResponse (zero bytes of protobuf).
func (s *traceSink) handleTraces(w http.ResponseWriter, r *http.Request) {
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.exports.Add(1)
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

// close stops the server and waits for its goroutine.
func (s *traceSink) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close()
	}
	s.wg.Wait()
}
