package jwks

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/crypto"
)

func octKey(kid string, b byte) string {
	return `{"kty":"oct","kid":"` + kid + `","k":"` + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) + `"}`
}

func set(keys ...string) string { return `{"keys":[` + strings.Join(keys, ",") + `]}` }

func initProvider(t *testing.T, props map[string]string) (*Provider, error) {
	t.Helper()
	p := New()
	err := p.Init(context.Background(), crypto.Metadata{Name: "jwks", Properties: props})
	t.Cleanup(func() { _ = p.Close() })
	return p, err
}

// usable reports whether kid wraps and unwraps a file key.
func usable(p *Provider, kid string) error {
	ctx := context.Background()
	fk := bytes.Repeat([]byte{9}, 32)
	w, err := p.WrapKey(ctx, fk, crypto.AlgorithmA256KW, kid, nil)
	if err != nil {
		return err
	}
	got, err := p.UnwrapKey(ctx, w, crypto.AlgorithmA256KW, kid, nil)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, fk) {
		return errors.New("round trip differs")
	}
	return nil
}

func TestInlineJWKS(t *testing.T) {
	jwks := set(octKey("a", 1), octKey("b", 2))
	for name, v := range map[string]string{"json": jwks, "base64": base64.StdEncoding.EncodeToString([]byte(jwks))} {
		p, err := initProvider(t, map[string]string{"jwks": v})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := usable(p, "b"); err != nil {
			t.Fatalf("%s: key b: %v", name, err)
		}
		if err := usable(p, "c"); !errors.Is(err, crypto.ErrKeyNotFound) {
			t.Fatalf("%s: key c: %v, want ErrKeyNotFound", name, err)
		}
	}
}

func TestInitErrors(t *testing.T) {
	tests := []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{}, "metadata property 'jwks' is required"},
		{map[string]string{"jwks": "not json"}, "failed to parse property 'jwks'"},
		{map[string]string{"jwks": set(octKey("a", 1)), "requestTimeout": "soon"}, "invalid duration"},
		{map[string]string{"jwks": "http://127.0.0.1:1/jwks.json", "requestTimeout": "2s"}, "failed to fetch JWKS"},
	}
	for _, tt := range tests {
		_, err := initProvider(t, tt.props)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Init(%v) = %v, want %q", tt.props, err, tt.want)
		}
	}
}

func TestFileReloadsWhenChanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, []byte(set(octKey("a", 1))), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := initProvider(t, map[string]string{"jwks": path})
	if err != nil {
		t.Fatal(err)
	}
	if err := usable(p, "a"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(set(octKey("b", 2))), 0o600); err != nil {
		t.Fatal(err)
	}
	// Make the change visible even on file systems with coarse mtimes.
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if err := usable(p, "b"); err != nil {
		t.Fatalf("new key after rewrite: %v", err)
	}
	if err := usable(p, "a"); !errors.Is(err, crypto.ErrKeyNotFound) {
		t.Fatalf("removed key: %v, want ErrKeyNotFound", err)
	}
	// A broken rewrite keeps the keys loaded before.
	if err := os.WriteFile(path, []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	later = later.Add(time.Minute)
	_ = os.Chtimes(path, later, later)
	if err := usable(p, "b"); err != nil {
		t.Fatalf("after a broken rewrite: %v", err)
	}
}

// jwksServer serves a JWKS that the test can change, counting fetches.
func jwksServer(t *testing.T, initial string) (url string, body *atomic.Value, fetches *atomic.Int32) {
	body, fetches = &atomic.Value{}, &atomic.Int32{}
	body.Store(initial)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		_, _ = w.Write([]byte(body.Load().(string)))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, body, fetches
}

func TestURLRefreshIsRateLimited(t *testing.T) {
	url, body, fetches := jwksServer(t, set(octKey("a", 1)))
	p, err := initProvider(t, map[string]string{"jwks": url, "minRefreshInterval": "1h"})
	if err != nil {
		t.Fatal(err)
	}
	if err := usable(p, "a"); err != nil {
		t.Fatal(err)
	}
	body.Store(set(octKey("a", 1), octKey("b", 2)))
	for range 5 {
		if err := usable(p, "b"); !errors.Is(err, crypto.ErrKeyNotFound) {
			t.Fatalf("key b: %v, want ErrKeyNotFound until the interval passes", err)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want only the one at init", n)
	}
}

func TestURLRefreshOnMissingKey(t *testing.T) {
	url, body, _ := jwksServer(t, set(octKey("a", 1)))
	p, err := initProvider(t, map[string]string{"jwks": url, "minRefreshInterval": "1s"})
	if err != nil {
		t.Fatal(err)
	}
	body.Store(set(octKey("b", 2)))
	deadline := time.Now().Add(20 * time.Second)
	for usable(p, "b") != nil {
		if time.Now().After(deadline) {
			t.Fatal("key b never appeared after the refresh interval")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestDurations(t *testing.T) {
	tests := []struct {
		v    string
		want time.Duration
	}{
		{"", defaultRequestTimeout},
		{"5s", 5 * time.Second},
		{"7", 7 * time.Second},
		{"0", defaultRequestTimeout},
	}
	for _, tt := range tests {
		got, err := duration(map[string]string{"requestTimeout": tt.v}, "requestTimeout", defaultRequestTimeout, time.Millisecond)
		if err != nil || got != tt.want {
			t.Errorf("duration(%q) = %v, %v; want %v", tt.v, got, err, tt.want)
		}
	}
}
