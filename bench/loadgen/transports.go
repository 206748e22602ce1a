package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// stateClient is one transport's view of the state API.
type stateClient interface {
	save(ctx context.Context, k int) error
	get(ctx context.Context, k int) error
	close()
}

func newStateClient(transport string, s *sidecar, p *payload) (stateClient, error) {
	switch transport {
	case "http":
		return newHTTPState(s.httpPort, p), nil
	case "grpc":
		return newGRPCState(s.grpcPort, p)
	}
	return nil, fmt.Errorf("unknown transport %q", transport)
}

// httpState drives the HTTP state API with one keep-alive connection pool
// big enough that no worker ever waits for or re-dials a connection.
type httpState struct {
	client  *http.Client
	saveURL string
	getURLs []string
	bodies  [][]byte // `[{"key":...,"value":...}]` per key
}

func newHTTPState(port int, p *payload) *httpState {
	base := "http://127.0.0.1:" + strconv.Itoa(port) + "/v1.0/state/" + storeName
	h := &httpState{
		client: &http.Client{Transport: &http.Transport{
			MaxIdleConns:        64,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		}},
		saveURL: base,
		getURLs: make([]string, len(p.keys)),
		bodies:  make([][]byte, len(p.keys)),
	}
	for i, k := range p.keys {
		h.getURLs[i] = base + "/" + k
		h.bodies[i] = []byte(`[{"key":"` + k + `","value":` + string(p.values[i]) + `}]`)
	}
	return h
}

func (h *httpState) save(ctx context.Context, k int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.saveURL, bytes.NewReader(h.bodies[k]))
	if err != nil {
		return fmt.Errorf("save request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	return h.do(req, http.StatusNoContent)
}

func (h *httpState) get(ctx context.Context, k int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.getURLs[k], nil)
	if err != nil {
		return fmt.Errorf("get request: %w", err)
	}
	return h.do(req, http.StatusOK)
}

// do sends req and checks the status. A get must return the value (keys are
// saved before any get phase), so an empty 200 or a 204 counts as a failure.
func (h *httpState) do(req *http.Request, want int) error {
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s %s: status %d, want %d: %s", req.Method, req.URL.Path, resp.StatusCode, want, body)
	}
	// Drain the body so the connection goes back to the pool.
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read body: %w", req.Method, req.URL.Path, err)
	}
	if want == http.StatusOK && n == 0 {
		return fmt.Errorf("%s %s: empty body", req.Method, req.URL.Path)
	}
	return nil
}

func (h *httpState) close() { h.client.CloseIdleConnections() }

// grpcState drives the gRPC state API over one shared connection, as an
// SDK client would.
type grpcState struct {
	conn   *grpc.ClientConn
	client runtimev1.DaprClient
	p      *payload
}

func newGRPCState(port int, p *payload) (*grpcState, error) {
	conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(port),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("grpc client: %w", err)
	}
	return &grpcState{conn: conn, client: runtimev1.NewDaprClient(conn), p: p}, nil
}

func (g *grpcState) save(ctx context.Context, k int) error {
	_, err := g.client.SaveState(ctx, &runtimev1.SaveStateRequest{
		StoreName: storeName,
		States:    []*commonv1.StateItem{{Key: g.p.keys[k], Value: g.p.values[k]}},
	})
	if err != nil {
		return fmt.Errorf("SaveState %s: %w", g.p.keys[k], err)
	}
	return nil
}

var errEmptyGet = errors.New("empty data for a key that was saved")

func (g *grpcState) get(ctx context.Context, k int) error {
	resp, err := g.client.GetState(ctx, &runtimev1.GetStateRequest{StoreName: storeName, Key: g.p.keys[k]})
	if err != nil {
		return fmt.Errorf("GetState %s: %w", g.p.keys[k], err)
	}
	if len(resp.GetData()) == 0 {
		return fmt.Errorf("GetState %s: %w", g.p.keys[k], errEmptyGet)
	}
	return nil
}

func (g *grpcState) close() { g.conn.Close() }
