// Package bearer is middleware.http.bearer: requests must carry
// "Authorization: Bearer <JWT>" signed by a key of the issuer's JWKS, with
// the configured issuer and audience; anything else gets 401. The JWKS URL
// comes from jwksURL or, when empty, from the issuer's OpenID Connect
// discovery document.
package bearer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/outrigger/outrigger/internal/middleware"
)

func init() {
	middleware.Registry.Register("middleware.http.bearer", func() middleware.Middleware { return &Bearer{} })
}

const (
	// allowedSkew tolerates clocks that disagree, as Dapr does.
	allowedSkew = 5 * time.Minute
	// minRefresh limits JWKS refetches triggered by unknown key ids, so a
	// flood of forged tokens cannot hammer the identity provider.
	minRefresh = time.Minute
	// maxJWKSBytes caps discovery and JWKS documents.
	maxJWKSBytes = 1 << 20
)

// signatureAlgorithms are the asymmetric algorithms OIDC providers sign
// with; HMAC is refused since a JWKS holds public keys.
var signatureAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// Bearer validates bearer tokens.
type Bearer struct {
	issuer, audience string
	jwksURL          string
	client           *http.Client
	now              func() time.Time

	mu        sync.Mutex // serialises refetches
	keys      jose.JSONWebKeySet
	keysMu    sync.RWMutex
	lastFetch time.Time
}

// Init reads issuer, audience and jwksURL and fetches the key set; a
// provider that cannot be reached fails the component.
func (b *Bearer) Init(ctx context.Context, md middleware.Metadata) error {
	var err error
	if b.issuer, err = md.Required("issuer", "issuerURL"); err != nil {
		return err
	}
	if b.audience, err = md.Required("audience", "clientID"); err != nil {
		return err
	}
	b.jwksURL = md.String("", "jwksURL")
	if b.client == nil {
		b.client = &http.Client{Timeout: 30 * time.Second}
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.jwksURL == "" {
		if b.jwksURL, err = b.discover(ctx); err != nil {
			return err
		}
	}
	return b.refresh(ctx)
}

func (b *Bearer) Close() error { return nil }

// discover reads jwks_uri from <issuer>/.well-known/openid-configuration.
func (b *Bearer) discover(ctx context.Context) (string, error) {
	u := strings.TrimSuffix(b.issuer, "/") + "/.well-known/openid-configuration"
	var doc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := b.getJSON(ctx, u, &doc); err != nil {
		return "", fmt.Errorf("OpenID Connect discovery: %w", err)
	}
	if doc.JWKSURI == "" {
		return "", fmt.Errorf("OpenID Connect discovery: %s has no jwks_uri", u)
	}
	return doc.JWKSURI, nil
}

// refresh fetches the JWKS.
func (b *Bearer) refresh(ctx context.Context) error {
	var set jose.JSONWebKeySet
	if err := b.getJSON(ctx, b.jwksURL, &set); err != nil {
		return fmt.Errorf("fetching JWKS: %w", err)
	}
	b.keysMu.Lock()
	b.keys, b.lastFetch = set, b.now()
	b.keysMu.Unlock()
	return nil
}

func (b *Bearer) getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJWKSBytes)).Decode(v); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

// key finds the verification key for kid, refetching the JWKS once when
// the id is unknown (the provider may have rotated its keys).
func (b *Bearer) key(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	if k := b.lookup(kid); k != nil {
		return k, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if k := b.lookup(kid); k != nil { // another request refetched meanwhile
		return k, nil
	}
	b.keysMu.RLock()
	recent := b.now().Sub(b.lastFetch) < minRefresh
	b.keysMu.RUnlock()
	if recent {
		return nil, errors.New("unknown key id")
	}
	if err := b.refresh(ctx); err != nil {
		return nil, err
	}
	if k := b.lookup(kid); k != nil {
		return k, nil
	}
	return nil, errors.New("unknown key id")
}

// lookup picks the key with this id; a token without kid matches a set of
// exactly one signing key.
func (b *Bearer) lookup(kid string) *jose.JSONWebKey {
	b.keysMu.RLock()
	defer b.keysMu.RUnlock()
	if kid == "" {
		if len(b.keys.Keys) == 1 {
			k := b.keys.Keys[0]
			return &k
		}
		return nil
	}
	for _, k := range b.keys.Key(kid) {
		if k.Use == "" || k.Use == "sig" {
			return &k
		}
	}
	return nil
}

// validate checks signature, issuer, audience and time claims.
func (b *Bearer) validate(ctx context.Context, raw string) error {
	tok, err := jwt.ParseSigned(raw, signatureAlgorithms)
	if err != nil {
		return err
	}
	if len(tok.Headers) != 1 {
		return errors.New("want exactly one signature")
	}
	key, err := b.key(ctx, tok.Headers[0].KeyID)
	if err != nil {
		return err
	}
	var claims jwt.Claims
	if err := tok.Claims(key.Key, &claims); err != nil {
		return err
	}
	return claims.ValidateWithLeeway(jwt.Expected{
		Issuer: b.issuer, AnyAudience: jwt.Audience{b.audience}, Time: b.now(),
	}, allowedSkew)
}

func (b *Bearer) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok || b.validate(r.Context(), raw) != nil {
			middleware.RespondStatus(w, http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearerToken extracts the token of a "Bearer <token>" header (scheme
// case-insensitive).
func bearerToken(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
