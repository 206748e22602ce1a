package appchannel

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/outrigger/outrigger/internal/h1client"
	"github.com/outrigger/outrigger/internal/rawsock"
)

// httpChannel calls an HTTP app (http, https or h2c).
type httpChannel struct {
	protocol string
	base     string            // scheme://host:port
	client   http.RoundTripper // called through h1client.Do: 3xx answers go back to the caller untouched
	token    string
	maxBody  int64
	lim      limiter
	pipeline http.Handler // appHttpPipeline around forward; nil without one
}

func newHTTPChannel(cfg Config) *httpChannel {
	scheme := "http"
	if cfg.Protocol == "https" {
		scheme = "https"
	}
	host := net.JoinHostPort(cfg.Address, strconv.Itoa(cfg.Port))
	c := &httpChannel{
		protocol: cfg.Protocol,
		base:     scheme + "://" + host,
		client:   newRoundTripper(cfg),
		token:    cfg.AppAPIToken,
		maxBody:  cfg.MaxResponseBodySize,
		lim:      newLimiter(cfg.MaxConcurrency),
	}
	c.pipeline = c.buildPipeline(cfg.HTTPPipeline)
	return c
}

// Idle keep-alive connections kept to the app, and for how long.
const (
	maxIdleConns    = 1024
	idleConnTimeout = 90 * time.Second
)

// newRoundTripper sends plain-HTTP calls with small bodies on the calling
// goroutine (h1client), which is most calls a sidecar makes to its app:
// actor methods, event deliveries, most invocations. Streams, TLS and h2c
// go through net/http's Transport.
func newRoundTripper(cfg Config) http.RoundTripper {
	tr := newTransport(cfg)
	if cfg.Protocol != "http" {
		return tr
	}
	return &h1client.Transport{
		Fallback:       tr,
		Dial:           tr.DialContext,
		MaxInlineBody:  smallBodyLimit,
		MaxIdlePerHost: maxIdleConns,
		IdleTimeout:    idleConnTimeout,
	}
}

// newTransport is tuned for many calls to one local host: plenty of idle
// keep-alive connections, no transparent compression (bodies pass through
// as the app sent them), no proxy from the environment.
func newTransport(cfg Config) *http.Transport {
	d := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:         rawsock.Dialer(d.DialContext),
		MaxIdleConns:        0, // no global cap; the per-host cap applies
		MaxIdleConnsPerHost: maxIdleConns,
		IdleConnTimeout:     idleConnTimeout,
		TLSHandshakeTimeout: cfg.DialTimeout,
		DisableCompression:  true,
		Protocols:           new(http.Protocols),
	}
	switch cfg.Protocol {
	case "h2c":
		tr.Protocols.SetUnencryptedHTTP2(true)
	case "https":
		// Apps commonly use self-signed certificates; daprd does not verify.
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // matches daprd
		tr.Protocols.SetHTTP1(true)
	default:
		tr.Protocols.SetHTTP1(true)
	}
	return tr
}

func (c *httpChannel) Protocol() string           { return c.protocol }
func (c *httpChannel) GRPCConn() *grpc.ClientConn { return nil }

func (c *httpChannel) Close() error {
	h1client.CloseIdleConnections(c.client)
	return nil
}

func (c *httpChannel) Invoke(ctx context.Context, req *Request) (*Response, error) {
	if req == nil || req.Message == nil || req.Message.GetMessage() == nil {
		return nil, errors.New("app channel: invoke request has no message")
	}
	if err := c.lim.acquire(ctx); err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, req)
	if err != nil {
		c.lim.release()
		return nil, err
	}
	return resp, nil
}

// do sends the request; on success the returned body owns the concurrency
// slot.
func (c *httpChannel) do(ctx context.Context, req *Request) (*Response, error) {
	hreq, err := c.newRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	hresp, err := c.send(hreq)
	if err != nil {
		return nil, fmt.Errorf("calling the app: %w", err)
	}
	if c.maxBody > 0 && hresp.ContentLength > c.maxBody {
		hresp.Body.Close()
		return nil, fmt.Errorf("app response of %d bytes: %w", hresp.ContentLength, ErrBodyTooLarge)
	}
	return &Response{
		Message: &internalsv1.InternalInvokeResponse{
			Status:  &internalsv1.Status{Code: int32(hresp.StatusCode)},
			Headers: httpHeaderToMetadata(hresp.Header),
			Message: &commonv1.InvokeResponse{ContentType: hresp.Header.Get("Content-Type")},
		},
		Body: newAppBody(hresp.Body, c.maxBody, c.lim),
	}, nil
}

func (c *httpChannel) newRequest(ctx context.Context, req *Request) (*http.Request, error) {
	msg := req.Message.GetMessage()
	if msg.GetHttpExtension() == nil {
		// An HTTP app is called with a verb: as daprd does, a call that
		// names none (InvokeService without http_extension) is refused.
		return nil, status.Error(codes.InvalidArgument, "missing HTTP extension field")
	}
	md := req.Message.GetMetadata()
	body, err := inMemoryBody(req.Body, callerContentLength(md))
	if err != nil {
		return nil, err
	}
	hreq, err := http.NewRequestWithContext(ctx, httpVerb(msg.GetHttpExtension()), c.base, body)
	if err != nil {
		return nil, fmt.Errorf("building the app request: %w", err)
	}
	setMethodPath(hreq.URL, msg.GetMethod())
	hreq.URL.RawQuery = msg.GetHttpExtension().GetQuerystring()
	hreq.Header = buildHTTPHeader(md, msg.GetContentType(), c.token)
	for k, v := range req.SidecarHeaders {
		hreq.Header.Set(k, v)
	}
	// net/http knows the length of in-memory readers; for a stream, trust
	// the caller's Content-Length so the app is not forced into chunked
	// encoding. Without either the body goes chunked.
	if hreq.ContentLength == 0 && body != http.NoBody {
		hreq.ContentLength = callerContentLength(md)
	}
	return hreq, nil
}

// smallBodyLimit is the largest declared body read into memory before the
// app call.
const smallBodyLimit = 64 << 10

// inMemoryBody returns the body to send: a small streamed body of declared
// length is read up front. net/http writes an in-memory body in the same
// write as the headers, while any other reader costs a separate header
// flush and a 32 KiB copy buffer per request: about a third of the app
// call's CPU for the common 1 KB body. Larger or unsized bodies stream.
func inMemoryBody(body io.Reader, declared int64) (io.Reader, error) {
	switch body.(type) {
	case nil:
		return http.NoBody, nil
	case *bytes.Reader, *bytes.Buffer, *strings.Reader:
		return body, nil
	}
	if body == http.NoBody || declared <= 0 || declared > smallBodyLimit {
		return body, nil
	}
	data := make([]byte, declared)
	if _, err := io.ReadFull(body, data); err != nil {
		return nil, fmt.Errorf("reading the %d-byte request body: %w", declared, err)
	}
	return bytes.NewReader(data), nil
}

// setMethodPath sets "/"+method as the URL path. The method may arrive
// percent-encoded or not: an encoded form is kept as the raw path so
// escapes such as %2F reach the app unchanged.
func setMethodPath(u *url.URL, method string) {
	u.Path = "/" + method
	if strings.IndexByte(method, '%') < 0 {
		return
	}
	if p, err := url.PathUnescape(method); err == nil {
		u.Path = "/" + p
		u.RawPath = "/" + method
	}
}

// callerContentLength returns the caller's Content-Length, or -1 (unknown)
// when absent or invalid.
func callerContentLength(md map[string]*internalsv1.ListStringValue) int64 {
	vals := md["content-length"].GetValues()
	if len(vals) != 1 {
		return -1
	}
	n, err := strconv.ParseInt(vals[0], 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// httpVerb maps the invocation verb; calls that came in over gRPC carry
// NONE and are POSTed.
func httpVerb(ext *commonv1.HTTPExtension) string {
	switch ext.GetVerb() {
	case commonv1.HTTPExtension_GET:
		return http.MethodGet
	case commonv1.HTTPExtension_HEAD:
		return http.MethodHead
	case commonv1.HTTPExtension_PUT:
		return http.MethodPut
	case commonv1.HTTPExtension_DELETE:
		return http.MethodDelete
	case commonv1.HTTPExtension_CONNECT:
		return http.MethodConnect
	case commonv1.HTTPExtension_OPTIONS:
		return http.MethodOptions
	case commonv1.HTTPExtension_TRACE:
		return http.MethodTrace
	case commonv1.HTTPExtension_PATCH:
		return http.MethodPatch
	}
	return http.MethodPost
}

// probeHealth is the HTTP health probe: a bare GET without the app token,
// healthy on any 2xx.
func (c *httpChannel) probeHealth(ctx context.Context, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base, http.NoBody)
	if err != nil {
		return fmt.Errorf("building the health probe: %w", err)
	}
	req.URL.Path = path
	resp, err := h1client.Do(c.client, req)
	if err != nil {
		return fmt.Errorf("health probe: %w", err)
	}
	// Drain a little so the connection can be reused.
	_, _ = io.CopyN(io.Discard, resp.Body, 4096)
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("health probe: app answered %d", resp.StatusCode)
	}
	return nil
}
