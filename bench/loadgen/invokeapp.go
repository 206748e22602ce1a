package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// echoApp is the app behind sidecar B, run inside loadgen on its own
// goroutines: its CPU is part of loadgen's, never of a sidecar's. It serves
// HTTP (echo, upload, download) and gRPC (TestService.UnaryCall) at once so
// one app serves both transports' cases.
type echoApp struct {
	httpPort int
	grpcPort int
	httpSrv  *http.Server
	grpcSrv  *grpc.Server
	wg       sync.WaitGroup
}

func startEchoApp() (*echoApp, error) {
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("echo app http listen: %w", err)
	}
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		hl.Close()
		return nil, fmt.Errorf("echo app grpc listen: %w", err)
	}
	a := &echoApp{
		httpPort: hl.Addr().(*net.TCPAddr).Port,
		grpcPort: gl.Addr().(*net.TCPAddr).Port,
		httpSrv:  &http.Server{Handler: echoMux(), ReadHeaderTimeout: 10 * time.Second},
		grpcSrv:  grpc.NewServer(),
	}
	testpb.RegisterTestServiceServer(a.grpcSrv, echoService{})
	a.wg.Add(2)
	go func() {
		defer a.wg.Done()
		_ = a.httpSrv.Serve(hl) // returns once close shuts it down
	}()
	go func() {
		defer a.wg.Done()
		_ = a.grpcSrv.Serve(gl)
	}()
	return a, nil
}

// close stops both servers and waits for their goroutines.
func (a *echoApp) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.httpSrv.Shutdown(ctx); err != nil {
		a.httpSrv.Close()
	}
	a.grpcSrv.Stop()
	a.wg.Wait()
}

func echoMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", handleEcho)
	mux.HandleFunc("/upload", handleUpload)
	mux.HandleFunc("/download", handleDownload)
	return mux
}

// handleEcho answers the request body back.
func handleEcho(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// handleUpload discards the body and answers with its length in bytes.
func handleUpload(w http.ResponseWriter, r *http.Request) {
	n, err := io.Copy(io.Discard, r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, strconv.FormatInt(n, 10))
}

// handleDownload streams ?bytes=N bytes with a Content-Length, as a file
// server would.
func handleDownload(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.ParseInt(r.URL.Query().Get("bytes"), 10, 64)
	if err != nil || n < 0 {
		http.Error(w, "bytes must be a non-negative integer", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	_, _ = io.Copy(w, newPatternReader(n))
}

// echoService answers UnaryCall with the request's payload.
type echoService struct {
	testpb.UnimplementedTestServiceServer
}

func (echoService) UnaryCall(_ context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	return &testpb.SimpleResponse{Payload: req.GetPayload()}, nil
}

// patternReader yields n bytes of a fixed pattern without holding them, so
// a 100 MiB body costs loadgen no memory.
type patternReader struct {
	left int64
}

func newPatternReader(n int64) *patternReader { return &patternReader{left: n} }

var pattern = func() []byte {
	b := make([]byte, 32<<10)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}()

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	n := copy(b[:min(int64(len(b)), p.left)], pattern)
	p.left -= int64(n)
	return n, nil
}

var errShortCount = errors.New("wrong byte count")
