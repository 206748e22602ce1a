// Package http is the bindings.http output binding: it calls one HTTP
// endpoint with any verb and returns the answer with its status and
// headers as response metadata.
package http

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/outrigger/outrigger/internal/bindings"
)

func init() {
	bindings.Outputs.Register("bindings.http", func() bindings.Output { return New() })
}

const jsonUTF8 = "application/json; charset=utf-8"

// Binding is the HTTP output binding.
type Binding struct {
	cfg    config
	client *http.Client
}

// New returns an uninitialised binding.
func New() *Binding { return &Binding{} }

// Init parses the metadata and builds the client.
func (b *Binding) Init(_ context.Context, md bindings.Metadata) error {
	cfg, err := parseConfig(md.Properties)
	if err != nil {
		return fmt.Errorf("http binding: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 15 * time.Second
	tr.TLSClientConfig = cfg.tls
	// Keep connections for concurrent calls: Go's default of 2 idle
	// connections per host would open (and leave in TIME_WAIT) a new
	// connection for most calls under load.
	tr.MaxIdleConnsPerHost = 64
	// No client timeout: responseTimeout bounds each request instead.
	b.cfg, b.client = cfg, &http.Client{Transport: tr}
	return nil
}

// Operations lists the verbs; create is POST, kept for older apps.
func (b *Binding) Operations() []string {
	return []string{bindings.OpCreate, "get", "head", "post", "put", "patch", "delete", "options", "trace"}
}

// Invoke sends one request. With errorIfNot2XX (the default) a non-2xx
// answer is an error, returned together with the response so its status
// and headers still reach the caller.
func (b *Binding) Invoke(ctx context.Context, req *bindings.InvokeRequest) (*bindings.InvokeResponse, error) {
	hreq, err := b.newRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	if b.cfg.responseTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.cfg.responseTimeout)
		defer cancel()
		hreq = hreq.WithContext(ctx)
	}
	resp, err := b.client.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("http binding: %w", err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, resp.Body) // lets the connection be reused
		resp.Body.Close()
	}()
	var body io.Reader = resp.Body
	if b.cfg.maxResponseBody > 0 {
		// Longer bodies are cut, not refused, as in Dapr.
		body = io.LimitReader(resp.Body, b.cfg.maxResponseBody)
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, fmt.Errorf("http binding: reading the response: %w", err)
	}
	out := &bindings.InvokeResponse{Data: data, Metadata: responseMetadata(resp)}
	errorIfNot2XX := b.cfg.errorIfNot2XX
	if v := req.Metadata["errorIfNot2XX"]; v != "" {
		errorIfNot2XX = bindings.IsTruthy(v)
	}
	if errorIfNot2XX && resp.StatusCode/100 != 2 {
		return out, fmt.Errorf("received status code %d", resp.StatusCode)
	}
	return out, nil
}

// method maps the operation to the HTTP verb and whether it sends a body.
func method(op string) (string, bool, error) {
	switch m := strings.ToUpper(op); m {
	case "CREATE":
		return http.MethodPost, true, nil
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		return m, true, nil
	case http.MethodGet, http.MethodHead, http.MethodDelete, http.MethodOptions, http.MethodTrace:
		return m, false, nil
	}
	return "", false, fmt.Errorf("http binding: invalid operation: %s", op)
}

// newRequest builds the request: URL plus the `path` metadata, default
// JSON headers, the security token, and every metadata key that starts
// with an upper-case letter as a header (lower-case keys are options).
func (b *Binding) newRequest(ctx context.Context, req *bindings.InvokeRequest) (*http.Request, error) {
	verb, withBody, err := method(req.Operation)
	if err != nil {
		return nil, err
	}
	u := b.cfg.url
	if p := req.Metadata["path"]; p != "" {
		u = strings.TrimRight(u, "/") + "/" + strings.TrimLeft(p, "/")
	}
	var body io.Reader
	if withBody {
		body = bytes.NewReader(req.Data)
	}
	hreq, err := http.NewRequestWithContext(ctx, verb, u, body)
	if err != nil {
		return nil, fmt.Errorf("http binding: %w", err)
	}
	if _, ok := req.Metadata["Content-Type"]; withBody && !ok {
		hreq.Header.Set("Content-Type", jsonUTF8)
	}
	if _, ok := req.Metadata["Accept"]; !ok {
		hreq.Header.Set("Accept", jsonUTF8)
	}
	if b.cfg.token != "" && b.cfg.tokenHeader != "" {
		hreq.Header.Set(b.cfg.tokenHeader, b.cfg.token)
	}
	for k, v := range req.Metadata {
		if k != "" && k[0] >= 'A' && k[0] <= 'Z' {
			hreq.Header.Set(k, v)
		}
	}
	// Trace context added by the sidecar always wins over a caller's header.
	for _, k := range []string{"traceparent", "tracestate", "baggage"} {
		if v := req.Metadata[k]; v != "" {
			hreq.Header.Set(k, v)
		}
	}
	return hreq, nil
}

// responseMetadata is the status and the headers (several values joined
// with ", ").
func responseMetadata(resp *http.Response) map[string]string {
	md := make(map[string]string, len(resp.Header)+2)
	md["statusCode"] = strconv.Itoa(resp.StatusCode)
	md["status"] = resp.Status
	for k, vs := range resp.Header {
		md[k] = strings.Join(vs, ", ")
	}
	return md
}

// Close releases idle connections.
func (b *Binding) Close() error {
	if b.client != nil {
		b.client.CloseIdleConnections()
	}
	return nil
}
