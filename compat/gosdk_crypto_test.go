package compat

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	dapr "github.com/dapr/go-sdk/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/outrigger/outrigger/compat/harness"
)

// cryptoTestdata holds a 256-bit AES key, an RSA key, and documents that
// Dapr's own implementation of dapr.io/enc/v1 encrypted with them.
const cryptoTestdata = "../internal/crypto/testdata"

// cryptoPattern is the plaintext of those documents.
func cryptoPattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// startCrypto runs a sidecar with a crypto.dapr.localstorage provider
// "localkeys" holding the testdata keys.
func startCrypto(t *testing.T) *harness.Sidecar {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"symmetric-256", "rsa-private.pem"} {
		data, err := os.ReadFile(filepath.Join(cryptoTestdata, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return harness.Start(t, harness.Options{
		AppID:      "crypto-go-" + uniq(t),
		Components: []string{harness.Component("localkeys", "crypto.dapr.localstorage", "v1", map[string]string{"path": dir})},
	})
}

func goEncrypt(t *testing.T, c dapr.Client, plain []byte, opts dapr.EncryptOptions) ([]byte, error) {
	t.Helper()
	out, err := c.Encrypt(callCtx(t), bytes.NewReader(plain), opts)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(out)
}

func goDecrypt(t *testing.T, c dapr.Client, doc []byte, opts dapr.DecryptOptions) ([]byte, error) {
	t.Helper()
	out, err := c.Decrypt(callCtx(t), bytes.NewReader(doc), opts)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(out)
}

// TestGoSDKCrypto encrypts and decrypts with the Go SDK (Encrypt/Decrypt
// over the EncryptAlpha1/DecryptAlpha1 streams) and decrypts documents
// encrypted by Dapr.
func TestGoSDKCrypto(t *testing.T) {
	t.Parallel()
	sc := startCrypto(t)
	c := goClient(t, sc)

	t.Run("round-trip", func(t *testing.T) {
		big := make([]byte, 1<<20+12345)
		if _, err := rand.Read(big); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name  string
			plain []byte
			opts  dapr.EncryptOptions
		}{
			{"aes key", []byte("hello from the Go SDK"), dapr.EncryptOptions{ComponentName: "localkeys", KeyName: "symmetric-256", KeyWrapAlgorithm: "AES"}},
			{"rsa key, chacha, 1 MiB", big, dapr.EncryptOptions{ComponentName: "localkeys", KeyName: "rsa-private.pem", KeyWrapAlgorithm: "RSA", DataEncryptionCipher: "chacha20-poly1305"}},
			{"exact segment", cryptoPattern(65536), dapr.EncryptOptions{ComponentName: "localkeys", KeyName: "symmetric-256", KeyWrapAlgorithm: "A256KW", DataEncryptionCipher: "aes-gcm"}},
		}
		for _, tt := range tests {
			enc, err := goEncrypt(t, c, tt.plain, tt.opts)
			if err != nil {
				t.Fatalf("%s: Encrypt: %v", tt.name, err)
			}
			if !bytes.HasPrefix(enc, []byte("dapr.io/enc/v1\n")) {
				t.Fatalf("%s: not a dapr.io/enc/v1 document: %.40q", tt.name, enc)
			}
			dec, err := goDecrypt(t, c, enc, dapr.DecryptOptions{ComponentName: "localkeys"})
			if err != nil || !bytes.Equal(dec, tt.plain) {
				t.Fatalf("%s: Decrypt: %d bytes (want %d), %v", tt.name, len(dec), len(tt.plain), err)
			}
		}
	})

	t.Run("decrypts documents encrypted by Dapr", func(t *testing.T) {
		for file, size := range map[string]int{"dapr-small-aes.enc": 11, "dapr-onesegment-aes.enc": 65536, "dapr-multi-chacha.enc": 3*65536 + 1234, "dapr-twosegments-rsa.enc": 2 * 65536} {
			doc, err := os.ReadFile(filepath.Join(cryptoTestdata, file))
			if err != nil {
				t.Fatal(err)
			}
			dec, err := goDecrypt(t, c, doc, dapr.DecryptOptions{ComponentName: "localkeys"})
			if err != nil || !bytes.Equal(dec, cryptoPattern(size)) {
				t.Errorf("%s: %d bytes, %v", file, len(dec), err)
			}
		}
	})

	t.Run("omitted key name", func(t *testing.T) {
		enc, err := goEncrypt(t, c, []byte("no name inside"), dapr.EncryptOptions{ComponentName: "localkeys", KeyName: "symmetric-256", KeyWrapAlgorithm: "A256KW", OmitDecryptionKeyName: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := goDecrypt(t, c, enc, dapr.DecryptOptions{ComponentName: "localkeys"}); status.Code(err) != codes.Internal {
			t.Fatalf("Decrypt without a key name: %v, want Internal", err)
		}
		dec, err := goDecrypt(t, c, enc, dapr.DecryptOptions{ComponentName: "localkeys", KeyName: "symmetric-256"})
		if err != nil || string(dec) != "no name inside" {
			t.Fatalf("Decrypt with KeyName: %q, %v", dec, err)
		}
	})

	t.Run("sdk encrypts, http decrypts", func(t *testing.T) {
		enc, err := goEncrypt(t, c, []byte("across transports"), dapr.EncryptOptions{ComponentName: "localkeys", KeyName: "symmetric-256", KeyWrapAlgorithm: "A256KW"})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(callCtx(t), http.MethodPut, sc.HTTPBase()+"/v1.0-alpha1/crypto/localkeys/decrypt", bytes.NewReader(enc))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != "across transports" {
			t.Fatalf("HTTP decrypt: %d %q", resp.StatusCode, body)
		}
	})

	t.Run("errors", func(t *testing.T) {
		_, err := goEncrypt(t, c, []byte("x"), dapr.EncryptOptions{ComponentName: "nosuch", KeyName: "k", KeyWrapAlgorithm: "A256KW"})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("unknown component: %v, want InvalidArgument", err)
		}
		doc, _ := os.ReadFile(filepath.Join(cryptoTestdata, "dapr-small-aes.enc"))
		doc[len(doc)-1] ^= 1
		if _, err := goDecrypt(t, c, doc, dapr.DecryptOptions{ComponentName: "localkeys"}); status.Code(err) != codes.Internal {
			t.Errorf("tampered document: %v, want Internal", err)
		}
	})
}
