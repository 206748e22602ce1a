package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/api"
	apihttp "github.com/outrigger/outrigger/internal/api/http"
	"github.com/outrigger/outrigger/internal/crypto"
	"github.com/outrigger/outrigger/internal/crypto/localstorage"
)

// newCryptoServer serves the HTTP API with a local-storage crypto provider
// "keys" holding a 256-bit AES key "aes" (and "aes2"); withProviders=false
// configures none.
func newCryptoServer(t *testing.T, withProviders bool, maxBody int64) *httptest.Server {
	t.Helper()
	var comps []*crypto.Component
	if withProviders {
		dir := t.TempDir()
		for name, b := range map[string]byte{"aes": 0xf1, "aes2": 0xf2} {
			if err := os.WriteFile(filepath.Join(dir, name), bytes.Repeat([]byte{b}, 32), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		p := localstorage.New()
		if err := p.Init(context.Background(), crypto.Metadata{Name: "keys", Properties: map[string]string{"path": dir}}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		comps = []*crypto.Component{{Name: "keys", Type: "crypto.dapr.localstorage", Version: "v1", Provider: p}}
	}
	core := api.New(api.Config{AppID: "myapp", Crypto: comps})
	srv := httptest.NewServer(apihttp.New(apihttp.Config{Core: core, MaxBodySize: maxBody}))
	t.Cleanup(srv.Close)
	return srv
}

func cryptoCall(t *testing.T, srv *httptest.Server, op, component string, headers map[string]string, body []byte) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, srv.URL+"/v1.0-alpha1/crypto/"+component+"/"+op, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: reading the response: %v", op, err)
	}
	return resp.StatusCode, out, resp.Header
}

func cryptoErrorBody(t *testing.T, body []byte) (code, msg string) {
	t.Helper()
	var e struct{ ErrorCode, Message string }
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return e.ErrorCode, e.Message
}

func TestCryptoHTTPErrors(t *testing.T) {
	enc := map[string]string{"dapr-key-name": "aes", "dapr-key-wrap-algorithm": "A256KW"}
	tests := []struct {
		name       string
		providers  bool
		op, comp   string
		headers    map[string]string
		body       string
		wantStatus int
		wantCode   string
		wantMsg    string
	}{
		{"no providers", false, "encrypt", "keys", enc, "x", 500, "ERR_CRYPTO_PROVIDERS_NOT_CONFIGURED", "crypto providers not configured"},
		{"unknown provider", true, "decrypt", "nope", nil, "x", 400, "ERR_CRYPTO_PROVIDER_NOT_FOUND", "crypto provider nope not found"},
		{"no key name", true, "encrypt", "keys", map[string]string{"dapr-key-wrap-algorithm": "A256KW"}, "x", 400, "ERR_BAD_REQUEST", "invalid request: missing header 'dapr-key-name'"},
		{"no algorithm", true, "encrypt", "keys", map[string]string{"dapr-key-name": "aes"}, "x", 400, "ERR_BAD_REQUEST", "invalid request: missing header 'dapr-key-wrap-algorithm'"},
		{"bad algorithm", true, "encrypt", "keys", map[string]string{"dapr-key-name": "aes", "dapr-key-wrap-algorithm": "rot13"}, "x", 500, "ERR_CRYPTO", "failed to perform operation: option Algorithm is not valid: algorithm ROT13 is not supported"},
		{"missing key", true, "encrypt", "keys", map[string]string{"dapr-key-name": "nokey", "dapr-key-wrap-algorithm": "A256KW"}, "x", 500, "ERR_CRYPTO", ""},
		{"not a document", true, "decrypt", "keys", nil, "hello", 500, "ERR_CRYPTO", "failed to perform operation: invalid header: invalid format"},
		{"body too large", true, "encrypt", "keys", enc, strings.Repeat("x", 5000), 400, "ERR_MALFORMED_REQUEST", ""},
	}
	for _, tt := range tests {
		srv := newCryptoServer(t, tt.providers, 4096)
		status, body, _ := cryptoCall(t, srv, tt.op, tt.comp, tt.headers, []byte(tt.body))
		if status != tt.wantStatus {
			t.Errorf("%s: status %d (%s), want %d", tt.name, status, body, tt.wantStatus)
			continue
		}
		code, msg := cryptoErrorBody(t, body)
		if code != tt.wantCode || (tt.wantMsg != "" && msg != tt.wantMsg) {
			t.Errorf("%s: %s %q, want %s %q", tt.name, code, msg, tt.wantCode, tt.wantMsg)
		}
	}
}

func TestCryptoHTTPRoundTrip(t *testing.T) {
	srv := newCryptoServer(t, true, 16<<20)
	tests := []struct {
		name    string
		size    int
		headers map[string]string
		decrypt map[string]string
	}{
		{"small aes-gcm", 11, map[string]string{"dapr-key-name": "aes", "dapr-key-wrap-algorithm": "aes"}, nil},
		{"chacha lower case", 70000, map[string]string{"dapr-key-name": "aes", "dapr-key-wrap-algorithm": "a256kw", "dapr-data-encryption-cipher": "chacha20-poly1305"}, nil},
		{"empty", 0, map[string]string{"dapr-key-name": "aes", "dapr-key-wrap-algorithm": "A256KW"}, nil},
		// Larger than the response buffer: the output streams.
		{"streamed", 3<<20 + 5, map[string]string{"dapr-key-name": "aes", "dapr-key-wrap-algorithm": "A256KW"}, nil},
		{"omitted key name", 100, map[string]string{"dapr-key-name": "aes", "dapr-key-wrap-algorithm": "A256KW", "dapr-omit-decryption-key-name": "true"}, map[string]string{"dapr-key-name": "aes"}},
	}
	for _, tt := range tests {
		plain := bytes.Repeat([]byte("0123456789abcdef"), tt.size/16+1)[:tt.size]
		status, enc, hdr := cryptoCall(t, srv, "encrypt", "keys", tt.headers, plain)
		if status != http.StatusOK || hdr.Get("Content-Type") != "application/octet-stream" {
			t.Fatalf("%s: encrypt status %d %s: %.200s", tt.name, status, hdr.Get("Content-Type"), enc)
		}
		if !bytes.HasPrefix(enc, []byte(crypto.SchemeName+"\n{")) {
			t.Fatalf("%s: not a dapr.io/enc/v1 document: %.60q", tt.name, enc)
		}
		status, dec, _ := cryptoCall(t, srv, "decrypt", "keys", tt.decrypt, enc)
		if status != http.StatusOK || !bytes.Equal(dec, plain) {
			t.Fatalf("%s: decrypt status %d, %d bytes (want %d): %.200s", tt.name, status, len(dec), len(plain), dec)
		}
	}
}

func TestCryptoHTTPKeyNames(t *testing.T) {
	srv := newCryptoServer(t, true, 1<<20)
	// Encrypted with aes but naming aes2 as the decryption key.
	_, enc, _ := cryptoCall(t, srv, "encrypt", "keys", map[string]string{"dapr-key-name": "aes", "dapr-key-wrap-algorithm": "A256KW", "dapr-decryption-key-name": "aes2"}, []byte("hi"))
	status, body, _ := cryptoCall(t, srv, "decrypt", "keys", nil, enc)
	if code, msg := cryptoErrorBody(t, body); status != 500 || code != "ERR_CRYPTO" || msg != "failed to perform operation: failed to validate the document's signature" {
		t.Fatalf("decrypt with the manifest's key: %d %s %s", status, code, msg)
	}
	if status, dec, _ := cryptoCall(t, srv, "decrypt", "keys", map[string]string{"dapr-key-name": "aes"}, enc); status != 200 || string(dec) != "hi" {
		t.Fatalf("decrypt with dapr-key-name: %d %q", status, dec)
	}
	// Omitted key name and none given: Dapr's error.
	_, enc, _ = cryptoCall(t, srv, "encrypt", "keys", map[string]string{"dapr-key-name": "aes", "dapr-key-wrap-algorithm": "A256KW", "dapr-omit-decryption-key-name": "yes"}, []byte("hi"))
	status, body, _ = cryptoCall(t, srv, "decrypt", "keys", nil, enc)
	if code, msg := cryptoErrorBody(t, body); status != 500 || code != "ERR_CRYPTO" || !strings.Contains(msg, "does not contain a key name") {
		t.Fatalf("decrypt without any key name: %d %s %s", status, code, msg)
	}
}

func TestCryptoHTTPTampered(t *testing.T) {
	srv := newCryptoServer(t, true, 1<<20)
	plain := bytes.Repeat([]byte("z"), 100000)
	_, enc, _ := cryptoCall(t, srv, "encrypt", "keys", map[string]string{"dapr-key-name": "aes", "dapr-key-wrap-algorithm": "A256KW"}, plain)
	enc[len(enc)-20] ^= 1
	status, body, _ := cryptoCall(t, srv, "decrypt", "keys", nil, enc)
	if code, msg := cryptoErrorBody(t, body); status != 500 || code != "ERR_CRYPTO" || msg != "failed to perform operation: error processing segment 1: failed to decrypt segment" {
		t.Fatalf("tampered document: %d %s %q", status, code, msg)
	}
}

// TestCryptoHTTPTamperedAfterStreaming: once the output has started to
// stream, a bad segment aborts the response, so the client never takes a
// cut-short plaintext for a complete one.
func TestCryptoHTTPTamperedAfterStreaming(t *testing.T) {
	srv := newCryptoServer(t, true, 16<<20)
	plain := bytes.Repeat([]byte("y"), 3<<20)
	_, enc, _ := cryptoCall(t, srv, "encrypt", "keys", map[string]string{"dapr-key-name": "aes", "dapr-key-wrap-algorithm": "A256KW"}, plain)
	enc[len(enc)-20] ^= 1
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/v1.0-alpha1/crypto/keys/decrypt", bytes.NewReader(enc))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("status %d and a complete-looking body of %d bytes for a tampered document", resp.StatusCode, len(got))
	}
	if len(got) >= len(plain) {
		t.Fatalf("released %d bytes, more than the verified segments", len(got))
	}
}
