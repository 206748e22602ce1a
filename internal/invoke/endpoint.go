package invoke

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"

	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/appchannel"
	"github.com/outrigger/outrigger/internal/hopbyhop"
	"github.com/outrigger/outrigger/internal/resources"
)

// httpClient is a plain HTTP client for external endpoints. Redirects are
// returned to the caller, not followed, so responses relay verbatim.
type httpClient struct {
	c *http.Client
	t *http.Transport
}

func newHTTPClient(tlsCfg *tls.Config) *httpClient {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsCfg,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		// Relay bodies as the service sent them, compressed or not.
		DisableCompression: true,
	}
	return &httpClient{
		t: t,
		c: &http.Client{
			Transport:     t,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

func (c *httpClient) close() { c.t.CloseIdleConnections() }

// endpoint is an HTTPEndpoint resource with its headers and TLS resolved
// on first use (they may come from secret stores) and then cached.
type endpoint struct {
	res   resources.HTTPEndpoint
	opts  resources.PropertyOptions
	mu    sync.Mutex
	ready atomic.Pointer[endpointState]
}

type endpointState struct {
	client  *httpClient
	headers map[string]string
}

// state returns the resolved endpoint. Failures are not cached, so a
// secret store that becomes available later fixes the endpoint.
func (e *endpoint) state(ctx context.Context) (*endpointState, error) {
	if st := e.ready.Load(); st != nil {
		return st, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if st := e.ready.Load(); st != nil {
		return st, nil
	}
	headers, err := e.res.HeaderValues(ctx, e.opts)
	if err != nil {
		return nil, err
	}
	tlsCfg, err := e.tlsConfig(ctx)
	if err != nil {
		return nil, err
	}
	st := &endpointState{client: newHTTPClient(tlsCfg), headers: headers}
	e.ready.Store(st)
	return st, nil
}

func (e *endpoint) close() {
	if st := e.ready.Load(); st != nil {
		st.client.close()
	}
}

// tlsConfig builds spec.clientTLS: extra root CAs, a client certificate
// and the renegotiation policy; nil without clientTLS.
func (e *endpoint) tlsConfig(ctx context.Context) (*tls.Config, error) {
	ct := e.res.Spec.ClientTLS
	if ct == nil {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ct.RootCA != nil {
		pem, err := e.document(ctx, ct.RootCA, "rootCA")
		if err != nil {
			return nil, err
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM([]byte(pem)) {
			return nil, fmt.Errorf("http endpoint %q: clientTLS.rootCA holds no PEM certificate", e.res.Name())
		}
		cfg.RootCAs = pool
	}
	if ct.Certificate != nil || ct.PrivateKey != nil {
		if ct.Certificate == nil || ct.PrivateKey == nil {
			return nil, fmt.Errorf("http endpoint %q: clientTLS needs both certificate and privateKey", e.res.Name())
		}
		certPEM, err := e.document(ctx, ct.Certificate, "certificate")
		if err != nil {
			return nil, err
		}
		keyPEM, err := e.document(ctx, ct.PrivateKey, "privateKey")
		if err != nil {
			return nil, err
		}
		cert, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
		if err != nil {
			return nil, fmt.Errorf("http endpoint %q: clientTLS certificate: %w", e.res.Name(), err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	switch ct.Renegotiation {
	case "OnceAsClient":
		cfg.Renegotiation = tls.RenegotiateOnceAsClient
	case "FreelyAsClient":
		cfg.Renegotiation = tls.RenegotiateFreelyAsClient
	default:
		cfg.Renegotiation = tls.RenegotiateNever
	}
	return cfg, nil
}

// document reads a PEM document given inline or through a secret.
func (e *endpoint) document(ctx context.Context, d *resources.TLSDocument, field string) (string, error) {
	if d.SecretKeyRef != nil && d.SecretKeyRef.Name != "" {
		if e.opts.ResolveSecret == nil {
			return "", fmt.Errorf("http endpoint %q: clientTLS.%s uses secretKeyRef but no secret store is available", e.res.Name(), field)
		}
		store := e.res.Auth.SecretStore
		if store == "" {
			return "", fmt.Errorf("http endpoint %q: clientTLS.%s uses secretKeyRef but auth.secretStore is not set", e.res.Name(), field)
		}
		v, err := e.opts.ResolveSecret(ctx, store, d.SecretKeyRef.Name, d.SecretKeyRef.SecretKey())
		if err != nil {
			return "", fmt.Errorf("http endpoint %q: clientTLS.%s: %w", e.res.Name(), field, err)
		}
		return v, nil
	}
	if d.Value == nil || d.Value.IsEmpty() {
		return "", fmt.Errorf("http endpoint %q: clientTLS.%s is empty", e.res.Name(), field)
	}
	return d.Value.String(), nil
}

// invokeHTTP calls an HTTPEndpoint or a full URL: baseUrl + "/" + method,
// the caller's verb, query, headers and streamed body, plus the endpoint's
// headers (overwriting). No Dapr caller headers are added.
func (i *Invoker) invokeHTTP(ctx context.Context, id string, t target, req *appchannel.Request) (*appchannel.Response, error) {
	base, client := t.baseURL, i.urlClient
	var extra map[string]string
	if t.endpoint != nil {
		st, err := t.endpoint.state(ctx)
		if err != nil {
			return nil, apierr.DirectInvoke(id, err)
		}
		base, client, extra = t.endpoint.res.Spec.BaseURL, st.client, st.headers
	}
	hreq, err := buildHTTPRequest(ctx, base, req, extra)
	if err != nil {
		return nil, apierr.DirectInvoke(id, err)
	}
	hresp, err := client.c.Do(hreq)
	if err != nil {
		return nil, apierr.DirectInvoke(id, err)
	}
	return responseFromHTTP(hresp), nil
}

func buildHTTPRequest(ctx context.Context, base string, req *appchannel.Request, extra map[string]string) (*http.Request, error) {
	m := req.Message.GetMessage()
	// An empty method calls the base URL as written, as daprd 1.18.3 does;
	// a method joins it with one slash (daprd doubles the slash after a
	// base URL ending in one).
	u := base
	if method := strings.TrimPrefix(m.GetMethod(), "/"); method != "" {
		u = strings.TrimSuffix(base, "/") + "/" + method
	}
	if q := m.GetHttpExtension().GetQuerystring(); q != "" {
		u += "?" + q
	}
	body := req.Body
	if body == nil && len(m.GetData().GetValue()) > 0 {
		body = bytes.NewReader(m.GetData().GetValue())
	}
	hreq, err := http.NewRequestWithContext(ctx, httpVerb(m.GetHttpExtension().GetVerb()), u, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	for k, v := range req.Message.GetMetadata() {
		lk := strings.ToLower(k)
		if lk == hdrContentLength || lk == hdrContentType || hopbyhop.Is(lk) || strings.HasSuffix(lk, "-bin") {
			continue
		}
		for _, s := range v.GetValues() {
			hreq.Header.Add(k, s)
		}
	}
	if ct := m.GetContentType(); ct != "" {
		hreq.Header.Set("Content-Type", ct)
	}
	for k, v := range extra {
		hreq.Header.Set(k, v)
	}
	if hreq.ContentLength == 0 && body != nil {
		hreq.ContentLength = -1
		if n, err := strconv.ParseInt(firstMD(req.Message.GetMetadata(), hdrContentLength), 10, 64); err == nil && n >= 0 {
			hreq.ContentLength = n
		}
	}
	return hreq, nil
}

// httpVerb is the HTTP method for Dapr's verb enum; NONE means POST.
func httpVerb(v commonv1.HTTPExtension_Verb) string {
	if v == commonv1.HTTPExtension_NONE {
		return http.MethodPost
	}
	return v.String()
}

// responseFromHTTP wraps an HTTP response as an invocation response.
func responseFromHTTP(r *http.Response) *appchannel.Response {
	msg := &internalsv1.InternalInvokeResponse{
		Status:  &internalsv1.Status{Code: int32(r.StatusCode)},
		Headers: headerMetadata(r.Header, 0),
		Message: &commonv1.InvokeResponse{ContentType: r.Header.Get("Content-Type")},
	}
	var body io.ReadCloser = r.Body
	if body == nil {
		body = http.NoBody
	}
	return &appchannel.Response{Message: msg, Body: body}
}
