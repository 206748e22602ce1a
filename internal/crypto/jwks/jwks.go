// Package jwks is the crypto.dapr.jwks provider: keys come from a JSON Web
// Key Set given in metadata `jwks` as inline JSON (optionally base64), as a
// path to a local file, or as an http(s) URL. Keys are addressed by "kid".
//
// A file is re-read when its modification time changes; a URL is fetched
// again when a key is missing or the set is older than
// `minRefreshInterval` (default 10m), at most once per that interval, each
// fetch bounded by `requestTimeout` (default 30s).
package jwks

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/outrigger/outrigger/internal/crypto"
)

const (
	defaultRequestTimeout     = 30 * time.Second
	defaultMinRefreshInterval = 10 * time.Minute
	maxJWKSSize               = 1 << 20
)

func init() {
	crypto.Registry.Register("crypto.dapr.jwks", func() crypto.Provider { return New() })
}

// Provider serves keys from a JWKS.
type Provider struct {
	crypto.LocalKeys

	source         string // "inline", "file" or "url"
	location       string
	requestTimeout time.Duration
	minRefresh     time.Duration
	client         *http.Client
	log            *slog.Logger

	mu        sync.Mutex
	keys      map[string]*crypto.Key
	loadedAt  time.Time // last successful load
	triedAt   time.Time // last fetch attempt (URL)
	fileMtime time.Time
}

// New returns an uninitialised provider.
func New() *Provider {
	p := &Provider{log: slog.Default()}
	p.Lookup = p.lookup
	return p
}

// Init parses the metadata and loads the set once; a set that can't be
// loaded fails the component.
func (p *Provider) Init(ctx context.Context, md crypto.Metadata) error {
	loc, _ := crypto.Prop(md.Properties, "jwks")
	if loc == "" {
		return errors.New("metadata property 'jwks' is required")
	}
	var err error
	if p.requestTimeout, err = duration(md.Properties, "requestTimeout", defaultRequestTimeout, time.Millisecond); err != nil {
		return err
	}
	if p.minRefresh, err = duration(md.Properties, "minRefreshInterval", defaultMinRefreshInterval, time.Second); err != nil {
		return err
	}
	p.log = p.log.With("component", md.Name)
	p.location = loc
	switch {
	case strings.HasPrefix(loc, "https://"), strings.HasPrefix(loc, "http://"):
		if strings.HasPrefix(loc, "http://") {
			p.log.Warn("loading a JWKS over HTTP without TLS is not recommended in production")
		}
		p.source = "url"
		p.client = &http.Client{Timeout: p.requestTimeout}
		return p.fetch(ctx)
	case isFile(loc):
		p.source = "file"
		_, err := p.reloadFile(true)
		return err
	default:
		p.source = "inline"
		raw := []byte(loc)
		if dec, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(loc, "=")); err == nil {
			raw = dec
		}
		keys, err := crypto.ParseJWKS(raw)
		if err != nil {
			return errors.New("failed to parse property 'jwks': not a URL, path to local file, or JSON value (optionally base64-encoded)")
		}
		p.keys = index(keys)
		return nil
	}
}

// Close implements crypto.Provider; nothing runs in the background.
func (p *Provider) Close() error {
	if p.client != nil {
		p.client.CloseIdleConnections()
	}
	return nil
}

func (p *Provider) lookup(ctx context.Context, kid string) (*crypto.Key, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.source {
	case "file":
		if _, err := p.reloadFile(false); err != nil {
			p.log.Error("reading JWKS file failed; keeping the keys loaded before", "error", err)
		}
	case "url":
		_, found := p.keys[kid]
		stale := time.Since(p.loadedAt) >= p.minRefresh
		if (!found || stale) && time.Since(p.triedAt) >= p.minRefresh {
			if err := p.fetch(ctx); err != nil {
				p.log.Warn("refreshing JWKS failed; keeping the keys fetched before", "error", err)
			}
		}
	}
	if p.keys == nil {
		return nil, errors.New("no JWKS loaded")
	}
	k, ok := p.keys[kid]
	if !ok {
		return nil, crypto.ErrKeyNotFound
	}
	return k, nil
}

// fetch downloads the set from the URL (callers hold mu, or run in Init).
func (p *Provider) fetch(ctx context.Context) error {
	p.triedAt = time.Now()
	ctx, cancel := context.WithTimeout(ctx, p.requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.location, nil)
	if err != nil {
		return fmt.Errorf("failed to fetch JWKS: %w", err)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("failed to fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("failed to fetch JWKS: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize))
	if err != nil {
		return fmt.Errorf("failed to fetch JWKS: %w", err)
	}
	keys, err := crypto.ParseJWKS(body)
	if err != nil {
		return fmt.Errorf("failed to fetch JWKS: %w", err)
	}
	p.keys, p.loadedAt = index(keys), time.Now()
	return nil
}

// reloadFile re-reads the file when its modification time changed (or
// always when force is set). It reports whether it read the file.
func (p *Provider) reloadFile(force bool) (bool, error) {
	info, err := os.Stat(p.location)
	if err != nil {
		return false, fmt.Errorf("failed to read JWKS file: %w", err)
	}
	if !force && info.ModTime().Equal(p.fileMtime) {
		return false, nil
	}
	data, err := os.ReadFile(p.location)
	if err != nil {
		return false, fmt.Errorf("failed to read JWKS file: %w", err)
	}
	keys, err := crypto.ParseJWKS(data)
	if err != nil {
		return false, fmt.Errorf("failed to parse JWKS file: %w", err)
	}
	p.keys, p.loadedAt, p.fileMtime = index(keys), time.Now(), info.ModTime()
	return true, nil
}

func isFile(loc string) bool {
	info, err := os.Stat(loc)
	return err == nil && !info.IsDir()
}

// index maps keys by kid; keys without one can't be addressed and are
// skipped.
func index(keys []*crypto.Key) map[string]*crypto.Key {
	m := make(map[string]*crypto.Key, len(keys))
	for _, k := range keys {
		if k.ID != "" {
			m[k.ID] = k
		}
	}
	return m
}

// duration reads a Go duration or, as Dapr's metadata decoder does, a
// whole number of seconds; values under minimum fall back to the default.
func duration(props map[string]string, name string, def, minimum time.Duration) (time.Duration, error) {
	v, _ := crypto.Prop(props, name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		secs, convErr := strconv.ParseInt(v, 10, 64)
		if convErr != nil {
			return 0, fmt.Errorf("metadata property '%s': invalid duration %q", name, v)
		}
		d = time.Duration(secs) * time.Second
	}
	if d < minimum {
		return def, nil
	}
	return d, nil
}
