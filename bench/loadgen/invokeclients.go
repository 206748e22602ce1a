package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
)

const (
	echoBytes   = 1024 // body of every echo request
	targetAppID = "b"  // the callee's app id
)

// echoBody is the 1 KB request body; the answer must be the same bytes.
var echoBody = bytes.Repeat([]byte("0123456789abcdef"), echoBytes/16)

// echoClient calls the echo method one way (direct or through sidecars).
type echoClient interface {
	call(ctx context.Context, _ int) error
	close()
}

// newKeepAliveClient is an HTTP client whose pool is big enough that no
// worker waits for or re-dials a connection.
func newKeepAliveClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns:        paceWorkers,
		MaxIdleConnsPerHost: paceWorkers,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}
}

// httpEcho POSTs the body to url and checks it comes back unchanged.
type httpEcho struct {
	client *http.Client
	url    string
}

// newHTTPEcho calls the echo app (or a proxy in front of it) on port when
// appID is "", otherwise app appID's echo method through the invoke API
// of the sidecar on port.
func newHTTPEcho(port int, appID string) *httpEcho {
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/echo"
	if appID != "" {
		url = "http://127.0.0.1:" + strconv.Itoa(port) + "/v1.0/invoke/" + appID + "/method/echo"
	}
	return &httpEcho{client: newKeepAliveClient(), url: url}
}

func (h *httpEcho) call(ctx context.Context, _ int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(echoBody))
	if err != nil {
		return fmt.Errorf("echo request: %w", err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 2*echoBytes))
	if err != nil {
		return fmt.Errorf("POST %s: read body: %w", req.URL.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: status %d: %.200s", req.URL.Path, resp.StatusCode, body)
	}
	if !bytes.Equal(body, echoBody) {
		return fmt.Errorf("POST %s: echoed %d bytes that differ from the %d sent", req.URL.Path, len(body), len(echoBody))
	}
	return nil
}

func (h *httpEcho) close() { h.client.CloseIdleConnections() }

// grpcEcho calls TestService.UnaryCall over one shared connection. Through
// a sidecar, the dapr-app-id metadata makes the sidecar proxy the call.
type grpcEcho struct {
	conn   *grpc.ClientConn
	client testpb.TestServiceClient
	md     metadata.MD // nil for a direct call
	req    *testpb.SimpleRequest
}

// newGRPCEcho dials port; unless appID is "", calls carry it as
// dapr-app-id, for the sidecar on port to proxy them.
func newGRPCEcho(port int, appID string) (*grpcEcho, error) {
	conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(port),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("grpc client: %w", err)
	}
	g := &grpcEcho{conn: conn, client: testpb.NewTestServiceClient(conn),
		req: &testpb.SimpleRequest{Payload: &testpb.Payload{Body: echoBody}}}
	if appID != "" {
		g.md = metadata.Pairs("dapr-app-id", appID)
	}
	return g, nil
}

func (g *grpcEcho) call(ctx context.Context, _ int) error {
	if g.md != nil {
		ctx = metadata.NewOutgoingContext(ctx, g.md)
	}
	resp, err := g.client.UnaryCall(ctx, g.req)
	if err != nil {
		return fmt.Errorf("UnaryCall: %w", err)
	}
	if got := resp.GetPayload().GetBody(); !bytes.Equal(got, echoBody) {
		return fmt.Errorf("UnaryCall: echoed %d bytes that differ from the %d sent", len(got), len(echoBody))
	}
	return nil
}

func (g *grpcEcho) close() { g.conn.Close() }

// upload streams n bytes to app b's upload method through the sidecar and
// checks the app counted them all.
func upload(ctx context.Context, sidecarPort int, n int64) error {
	url := "http://127.0.0.1:" + strconv.Itoa(sidecarPort) + "/v1.0/invoke/" + targetAppID + "/method/upload"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, newPatternReader(n))
	if err != nil {
		return fmt.Errorf("upload request: %w", err)
	}
	req.ContentLength = n
	req.Header.Set("Content-Type", "application/octet-stream")
	client := newKeepAliveClient()
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if err != nil {
		return fmt.Errorf("upload: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("upload: status %d: %.200s", resp.StatusCode, body)
	}
	if string(body) != strconv.FormatInt(n, 10) {
		return fmt.Errorf("upload: app counted %q bytes, sent %d: %w", body, n, errShortCount)
	}
	return nil
}

// download streams n bytes from app b's download method through the
// sidecar and counts them.
func download(ctx context.Context, sidecarPort int, n int64) error {
	url := "http://127.0.0.1:" + strconv.Itoa(sidecarPort) + "/v1.0/invoke/" + targetAppID +
		"/method/download?bytes=" + strconv.FormatInt(n, 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("download request: %w", err)
	}
	client := newKeepAliveClient()
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("download: status %d: %.200s", resp.StatusCode, body)
	}
	got, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return fmt.Errorf("download: after %d bytes: %w", got, err)
	}
	if got != n {
		return fmt.Errorf("download: got %d bytes, want %d: %w", got, n, errShortCount)
	}
	return nil
}
