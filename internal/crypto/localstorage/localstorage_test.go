package localstorage

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/crypto"
)

func writeFile(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func newProvider(t *testing.T, dir string) crypto.Provider {
	t.Helper()
	p, err := crypto.Registry.Create("crypto.dapr.localstorage", "v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Init(context.Background(), crypto.Metadata{Name: "ls", Properties: map[string]string{"path": dir}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func TestInitValidatesPath(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "file", []byte("x"))
	tests := []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{}, "metadata property 'path' is required"},
		{map[string]string{"path": filepath.Join(dir, "missing")}, "could not stat path"},
		{map[string]string{"PATH": filepath.Join(dir, "file")}, "is not a directory"},
	}
	for _, tt := range tests {
		err := New().Init(context.Background(), crypto.Metadata{Properties: tt.props})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Init(%v) = %v, want %q", tt.props, err, tt.want)
		}
	}
}

// TestKeyFiles wraps and unwraps a file key with every kind of key file
// and checks what GetKey reveals.
func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	// Not valid base64 text, so the raw file is taken as it is.
	secret := bytes.Repeat([]byte{0xf0, 0x0d}, 16)

	writeFile(t, dir, "rsa.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	writeFile(t, dir, "ec.pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}))
	writeFile(t, dir, "raw-aes", secret)
	writeFile(t, dir, "b64-aes", []byte(base64.StdEncoding.EncodeToString(secret)+"\n"))
	writeFile(t, dir, "jwk-aes.json", []byte(`{"kty":"oct","k":"`+base64.RawURLEncoding.EncodeToString(secret)+`"}`))
	writeFile(t, dir, "nested/key", secret)
	p := newProvider(t, dir)
	ctx := context.Background()
	fileKey := bytes.Repeat([]byte{1}, 32)

	for _, tt := range []struct{ name, alg string }{
		{"rsa.pem", crypto.AlgorithmRSAOAEP256},
		{"raw-aes", crypto.AlgorithmA256KW},
		{"b64-aes", crypto.AlgorithmA256KW},
		{"jwk-aes.json", crypto.AlgorithmA256KW},
		{"nested/key", crypto.AlgorithmA256KW},
	} {
		wrapped, err := p.WrapKey(ctx, fileKey, tt.alg, tt.name, nil)
		if err != nil {
			t.Fatalf("%s: wrap: %v", tt.name, err)
		}
		got, err := p.UnwrapKey(ctx, wrapped, tt.alg, tt.name, nil)
		if err != nil || !bytes.Equal(got, fileKey) {
			t.Fatalf("%s: unwrap = %x, %v", tt.name, got, err)
		}
	}
	// The three symmetric spellings are the same key.
	w, _ := p.WrapKey(ctx, fileKey, crypto.AlgorithmA256KW, "raw-aes", nil)
	if got, err := p.UnwrapKey(ctx, w, crypto.AlgorithmA256KW, "b64-aes", nil); err != nil || !bytes.Equal(got, fileKey) {
		t.Fatalf("base64 and raw files differ: %v", err)
	}

	if k, err := p.GetKey(ctx, "ec.pem"); err != nil || k.Private != nil || k.Public == nil {
		t.Fatalf("GetKey(ec.pem) = %+v, %v", k, err)
	}
	if _, err := p.GetKey(ctx, "raw-aes"); !errors.Is(err, crypto.ErrKeyNotFound) {
		t.Fatalf("GetKey of a symmetric key: %v, want ErrKeyNotFound", err)
	}
	if _, err := p.GetKey(ctx, "missing"); !errors.Is(err, crypto.ErrKeyNotFound) {
		t.Fatalf("GetKey(missing): %v, want ErrKeyNotFound", err)
	}
}

func TestKeyNamesCannotEscape(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "keys")
	writeFile(t, parent, "outside", bytes.Repeat([]byte{1}, 32))
	writeFile(t, dir, "inside", bytes.Repeat([]byte{1}, 32))
	if err := os.Symlink(filepath.Join(parent, "outside"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	p := newProvider(t, dir)
	for _, name := range []string{"../outside", "link", "/etc/passwd", ""} {
		if _, err := p.WrapKey(context.Background(), make([]byte, 32), crypto.AlgorithmA256KW, name, nil); err == nil {
			t.Errorf("key %q outside the folder was usable", name)
		}
	}
}

// TestEncryptDecryptThroughProvider runs the scheme end to end with keys
// loaded from files.
func TestEncryptDecryptThroughProvider(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "aes", bytes.Repeat([]byte{3}, 32))
	p := newProvider(t, dir)
	ctx := context.Background()
	enc, err := crypto.NewEncrypter(strings.NewReader("hello, world"), crypto.EncryptOptions{
		KeyName: "aes", Algorithm: "AES",
		Wrap: func(k []byte, alg, name string) ([]byte, error) { return p.WrapKey(ctx, k, alg, name, nil) },
	})
	if err != nil {
		t.Fatal(err)
	}
	var doc bytes.Buffer
	if _, err := doc.ReadFrom(enc); err != nil {
		t.Fatal(err)
	}
	dec, err := crypto.NewDecrypter(&doc, crypto.DecryptOptions{
		Unwrap: func(w []byte, alg, name string) ([]byte, error) { return p.UnwrapKey(ctx, w, alg, name, nil) },
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := out.ReadFrom(dec); err != nil || out.String() != "hello, world" {
		t.Fatalf("decrypted %q, %v", out.String(), err)
	}
}
