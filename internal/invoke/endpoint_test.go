package invoke

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/resources"
)

func parseEndpoint(t *testing.T, doc string) resources.HTTPEndpoint {
	t.Helper()
	var e resources.HTTPEndpoint
	if err := yaml.Unmarshal([]byte(doc), &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// externalServer records requests and answers like an external service.
func externalServer(t *testing.T, got *seen, tlsServer bool) *httptest.Server {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		*got = seen{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, body: string(b), header: r.Header.Clone()}
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		w.Header().Set("X-Ext", "1")
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "external:"+string(b))
	})
	var s *httptest.Server
	if tlsServer {
		s = httptest.NewTLSServer(h)
	} else {
		s = httptest.NewServer(h)
	}
	t.Cleanup(s.Close)
	return s
}

func TestInvokeHTTPEndpoint(t *testing.T) {
	var got seen
	srv := externalServer(t, &got, false)
	ep := parseEndpoint(t, `
metadata: {name: orders}
spec:
  baseUrl: `+srv.URL+`/api/
  headers:
  - {name: Authorization, value: Bearer from-endpoint}
  - {name: X-Number, value: 42}
  - name: X-Secret
    secretKeyRef: {name: creds, key: token}
auth: {secretStore: vault}
`)
	secretCalls := 0
	inv := newCaller(t, nil, func(c *Config) {
		c.HTTPEndpoints = []resources.HTTPEndpoint{ep}
		c.EndpointOptions.ResolveSecret = func(_ context.Context, store, name, key string) (string, error) {
			secretCalls++
			if secretCalls == 1 {
				return "", errors.New("store not ready")
			}
			return store + "/" + name + "/" + key, nil
		}
	})
	call := func() (int, string, error) {
		req := newRequest(t, http.MethodPost, "orders/1?ignored", "hello", http.Header{"Authorization": {"Basic caller"}, "X-Caller": {"c"}})
		req.Message.Message.Method = "orders/1"
		req.Message.Message.HttpExtension.Querystring = "a=1"
		resp, err := inv.Invoke(context.Background(), "orders", req)
		if err != nil {
			return 0, "", err
		}
		return int(resp.Message.GetStatus().GetCode()), readBody(t, resp), nil
	}
	// A failing secret is not cached: the next call resolves again.
	if _, _, err := call(); err == nil || !strings.Contains(err.Error(), "store not ready") {
		t.Fatalf("first call: %v", err)
	}
	code, body, err := call()
	if err != nil {
		t.Fatal(err)
	}
	if code != http.StatusCreated || body != "external:hello" {
		t.Errorf("got %d %q", code, body)
	}
	if got.method != http.MethodPost || got.path != "/api/orders/1" || got.query != "a=1" {
		t.Errorf("server saw %s %s?%s", got.method, got.path, got.query)
	}
	want := map[string]string{"Authorization": "Bearer from-endpoint", "X-Number": "42", "X-Secret": "vault/creds/token", "X-Caller": "c"}
	for k, v := range want {
		if g := got.header.Values(k); len(g) != 1 || g[0] != v {
			t.Errorf("header %s = %q, want %q", k, g, v)
		}
	}
	if got.header.Get("Dapr-Caller-App-Id") != "" || got.header.Get("Forwarded") != "" {
		t.Error("Dapr caller headers sent to an external endpoint")
	}
	if code, _, _ := call(); code != http.StatusCreated || secretCalls != 2 {
		t.Errorf("resolved headers not cached: %d secret calls", secretCalls)
	}
}

func TestEndpointRequestURL(t *testing.T) {
	tests := []struct{ base, method, query, want string }{
		{"http://h/base", "x/y", "", "http://h/base/x/y"},
		{"http://h/base/", "x", "q=1", "http://h/base/x?q=1"},
		{"http://h/base", "", "", "http://h/base"},
		{"http://h/base/", "", "q=1", "http://h/base/?q=1"},
		{"http://h", "", "", "http://h"},
	}
	for _, tt := range tests {
		req := newRequest(t, http.MethodGet, "", "", nil)
		req.Message.Message.Method = tt.method
		req.Message.Message.HttpExtension.Querystring = tt.query
		hreq, err := buildHTTPRequest(context.Background(), tt.base, req, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := hreq.URL.String(); got != tt.want {
			t.Errorf("base %q, method %q: URL %q, want %q", tt.base, tt.method, got, tt.want)
		}
	}
}

func TestInvokeFullURL(t *testing.T) {
	var got seen
	srv := externalServer(t, &got, false)
	inv := newCaller(t, nil, nil)
	resp, err := inv.Invoke(context.Background(), srv.URL, newRequest(t, http.MethodPut, "x/y", "body", http.Header{"X-A": {"a"}}))
	if err != nil {
		t.Fatal(err)
	}
	if b := readBody(t, resp); b != "external:body" || firstMD(resp.Message.GetHeaders(), "x-ext") != "1" {
		t.Errorf("got %q, headers %v", b, resp.Message.GetHeaders())
	}
	if got.method != http.MethodPut || got.path != "/x/y" || got.header.Get("X-A") != "a" {
		t.Errorf("server saw %s %s %v", got.method, got.path, got.header)
	}
	// Redirects are relayed, not followed.
	resp, err = inv.Invoke(context.Background(), srv.URL, newRequest(t, http.MethodGet, "redirect", "", nil))
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.Message.GetStatus().GetCode() != http.StatusFound || firstMD(resp.Message.GetHeaders(), "location") != "/elsewhere" {
		t.Errorf("redirect: %d %v", resp.Message.GetStatus().GetCode(), resp.Message.GetHeaders())
	}
	// An unreachable URL is ERR_DIRECT_INVOKE.
	_, err = inv.Invoke(context.Background(), "http://127.0.0.1:1", newRequest(t, http.MethodGet, "x", "", nil))
	if e := apierr.From(err); e.Code != "ERR_DIRECT_INVOKE" || !strings.HasPrefix(e.Message, "failed to invoke, id: http://127.0.0.1:1, err: ") {
		t.Errorf("error = %v", e)
	}
}

func certPEM(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// indent prefixes every line for embedding in YAML block scalars.
func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n"+prefix)
}

func TestInvokeHTTPEndpointTLS(t *testing.T) {
	var got seen
	srv := externalServer(t, &got, true)
	withCA := parseEndpoint(t, `
metadata: {name: secure}
spec:
  baseUrl: `+srv.URL+`
  clientTLS:
    renegotiation: OnceAsClient
    rootCA:
      value: |
`+indent(certPEM(srv.Certificate()), "        ")+"\n")
	withoutCA := parseEndpoint(t, "metadata: {name: insecure}\nspec: {baseUrl: "+srv.URL+"}\n")
	inv := newCaller(t, nil, func(c *Config) { c.HTTPEndpoints = []resources.HTTPEndpoint{withCA, withoutCA} })

	resp, err := inv.Invoke(context.Background(), "secure", newRequest(t, http.MethodPost, "m", "tls", nil))
	if err != nil {
		t.Fatal(err)
	}
	if b := readBody(t, resp); b != "external:tls" {
		t.Errorf("body = %q", b)
	}
	_, err = inv.Invoke(context.Background(), "insecure", newRequest(t, http.MethodPost, "m", "tls", nil))
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without rootCA: %v", err)
	}
}

func TestInvokeHTTPEndpointClientCertificate(t *testing.T) {
	certText, keyText, clientCert := selfSigned(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) != 1 || !r.TLS.PeerCertificates[0].Equal(clientCert) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, "hello "+r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ep := parseEndpoint(t, `
metadata: {name: mtls}
spec:
  baseUrl: `+srv.URL+`
  clientTLS:
    rootCA: {secretKeyRef: {name: tls, key: ca}}
    certificate: {secretKeyRef: {name: tls, key: crt}}
    privateKey: {secretKeyRef: {name: tls, key: key}}
auth: {secretStore: files}
`)
	secrets := map[string]string{"ca": certPEM(srv.Certificate()), "crt": certText, "key": keyText}
	inv := newCaller(t, nil, func(c *Config) {
		c.HTTPEndpoints = []resources.HTTPEndpoint{ep}
		c.EndpointOptions.ResolveSecret = func(_ context.Context, _, _, key string) (string, error) { return secrets[key], nil }
	})
	resp, err := inv.Invoke(context.Background(), "mtls", newRequest(t, http.MethodGet, "m", "", nil))
	if err != nil {
		t.Fatal(err)
	}
	if b := readBody(t, resp); b != "hello outrigger-test" {
		t.Errorf("body = %q (status %d)", b, resp.Message.GetStatus().GetCode())
	}
}

// selfSigned makes a client certificate and key in PEM.
func selfSigned(t *testing.T) (certText, keyText string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	tmpl.Subject.CommonName = "outrigger-test"
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return certPEM(cert), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})), cert
}
