package bearer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/outrigger/outrigger/internal/middleware"
	mt "github.com/outrigger/outrigger/internal/middleware/middlewaretest"
)

// provider is a minimal OpenID Connect provider: a discovery document and
// a JWKS whose keys the test can rotate.
type provider struct {
	srv        *httptest.Server
	mu         sync.Mutex
	keys       []jose.JSONWebKey // public
	jwksServed atomic.Int32
}

func newProvider(t *testing.T) *provider {
	p := &provider{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": p.srv.URL, "jwks_uri": p.srv.URL + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) {
		p.jwksServed.Add(1)
		p.mu.Lock()
		defer p.mu.Unlock()
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: p.keys})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// signingKey is a private key with its id and algorithm.
type signingKey struct {
	kid string
	alg jose.SignatureAlgorithm
	key any
}

func newRSAKey(t *testing.T, kid string) signingKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid: kid, alg: jose.RS256, key: k}
}

func newECKey(t *testing.T, kid string) signingKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid: kid, alg: jose.ES256, key: k}
}

// publish adds a key's public half to the JWKS.
func (p *provider) publish(k signingKey) {
	priv := jose.JSONWebKey{Key: k.key, KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}
	pub := priv.Public()
	p.mu.Lock()
	p.keys = append(p.keys, pub)
	p.mu.Unlock()
}

func sign(t *testing.T, k signingKey, claims jwt.Claims) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if k.kid != "" {
		opts = opts.WithHeader("kid", k.kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func hmacToken(t *testing.T, claims jwt.Claims) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")},
		(&jose.SignerOptions{}).WithHeader("kid", "rsa-1"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestBearer(t *testing.T) {
	p := newProvider(t)
	rsaKey, ecKey, unpublished := newRSAKey(t, "rsa-1"), newECKey(t, "ec-1"), newRSAKey(t, "rsa-1")
	p.publish(rsaKey)
	p.publish(ecKey)
	srv := mt.Serve(t, &Bearer{}, map[string]string{"issuer": p.srv.URL, "audience": "my-app"}, mt.Echo())

	now := time.Now()
	good := jwt.Claims{Issuer: p.srv.URL, Audience: jwt.Audience{"my-app"}, Subject: "alice",
		Expiry: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now)}
	with := func(change func(*jwt.Claims)) jwt.Claims {
		c := good
		change(&c)
		return c
	}
	tests := []struct {
		name   string
		header string
		want   int
	}{
		{"valid RSA token", "Bearer " + sign(t, rsaKey, good), http.StatusOK},
		{"valid EC token, lower-case scheme", "bearer " + sign(t, ecKey, good), http.StatusOK},
		{"one of several audiences", "Bearer " + sign(t, rsaKey, with(func(c *jwt.Claims) { c.Audience = jwt.Audience{"other", "my-app"} })), http.StatusOK},
		{"expired within the allowed skew", "Bearer " + sign(t, rsaKey, with(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(now.Add(-time.Minute)) })), http.StatusOK},
		{"no header", "", http.StatusUnauthorized},
		{"other scheme", "Basic " + sign(t, rsaKey, good), http.StatusUnauthorized},
		{"not a JWT", "Bearer not-a-token", http.StatusUnauthorized},
		{"wrong audience", "Bearer " + sign(t, rsaKey, with(func(c *jwt.Claims) { c.Audience = jwt.Audience{"other"} })), http.StatusUnauthorized},
		{"wrong issuer", "Bearer " + sign(t, rsaKey, with(func(c *jwt.Claims) { c.Issuer = "https://evil.example" })), http.StatusUnauthorized},
		{"expired", "Bearer " + sign(t, rsaKey, with(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(now.Add(-time.Hour)) })), http.StatusUnauthorized},
		{"not yet valid", "Bearer " + sign(t, rsaKey, with(func(c *jwt.Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(time.Hour)) })), http.StatusUnauthorized},
		{"signed by an unpublished key with a known kid", "Bearer " + sign(t, unpublished, good), http.StatusUnauthorized},
		{"HMAC with the key id of an RSA key", "Bearer " + hmacToken(t, good), http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := mt.NewRequest(t, http.MethodGet, srv.URL+"/v1.0/invoke/app/method/x", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			status, body, _ := mt.Do(t, req)
			if status != tt.want {
				t.Errorf("status = %d (%q), want %d", status, body, tt.want)
			}
			if status == http.StatusUnauthorized && body != "Unauthorized" {
				t.Errorf("401 body = %q", body)
			}
		})
	}
}

func TestBearerPicksUpRotatedKeys(t *testing.T) {
	p := newProvider(t)
	p.publish(newRSAKey(t, "old"))
	b := &Bearer{}
	srv := mt.Serve(t, b, map[string]string{"issuerURL": p.srv.URL, "clientID": "my-app", "jwksURL": p.srv.URL + "/keys"}, mt.Echo())
	fresh := newRSAKey(t, "new")
	claims := jwt.Claims{Issuer: p.srv.URL, Audience: jwt.Audience{"my-app"}, Expiry: jwt.NewNumericDate(time.Now().Add(time.Hour))}
	call := func() int {
		req := mt.NewRequest(t, http.MethodGet, srv.URL, nil)
		req.Header.Set("Authorization", "Bearer "+sign(t, fresh, claims))
		status, _, _ := mt.Do(t, req)
		return status
	}
	// Unknown kid right after a fetch: refused without hammering the provider.
	if got := call(); got != http.StatusUnauthorized {
		t.Fatalf("unpublished key: %d", got)
	}
	served := p.jwksServed.Load()
	p.publish(fresh)
	// Once the refresh interval has passed, the unknown kid triggers a refetch.
	b.keysMu.Lock()
	b.lastFetch = b.lastFetch.Add(-2 * minRefresh)
	b.keysMu.Unlock()
	if got := call(); got != http.StatusOK {
		t.Fatalf("rotated key: %d, want 200", got)
	}
	if p.jwksServed.Load() != served+1 {
		t.Errorf("JWKS fetched %d more times, want 1", p.jwksServed.Load()-served)
	}
}

func TestBearerConfig(t *testing.T) {
	p := newProvider(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	tests := []struct {
		name  string
		props map[string]string
	}{
		{"no issuer", map[string]string{"audience": "a"}},
		{"no audience", map[string]string{"issuer": p.srv.URL}},
		{"issuer without discovery", map[string]string{"issuer": p.srv.URL + "/nothing-here", "audience": "a"}},
		{"unreachable JWKS", map[string]string{"issuer": p.srv.URL, "audience": "a", "jwksURL": dead.URL}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := (&Bearer{}).Init(context.Background(), middleware.Metadata{Properties: tt.props}); err == nil {
				t.Error("Init succeeded")
			}
		})
	}
}
