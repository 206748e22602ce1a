package crypto

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// testKeys returns the keys in testdata: a 32-byte AES key and an RSA key.
func testKeys(t testing.TB) map[string]*Key {
	t.Helper()
	keys := map[string]*Key{}
	for _, name := range []string{"symmetric-256", "rsa-private.pem"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		k, err := ParseKey(data, "")
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		keys[name] = k
	}
	return keys
}

func wrapWith(keys map[string]*Key) WrapFunc {
	return func(fileKey []byte, algorithm, keyName string) ([]byte, error) {
		k, ok := keys[keyName]
		if !ok {
			return nil, ErrKeyNotFound
		}
		return WrapKey(k, fileKey, algorithm, nil)
	}
}

func unwrapWith(keys map[string]*Key) UnwrapFunc {
	return func(wrapped []byte, algorithm, keyName string) ([]byte, error) {
		k, ok := keys[keyName]
		if !ok {
			return nil, ErrKeyNotFound
		}
		return UnwrapKey(k, wrapped, algorithm, nil)
	}
}

// pattern is deterministic test plaintext (the same generator made the
// Dapr-encrypted vectors in testdata).
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func encrypt(t testing.TB, plain []byte, opts EncryptOptions) []byte {
	t.Helper()
	r, err := NewEncrypter(bytes.NewReader(plain), opts)
	if err != nil {
		t.Fatalf("NewEncrypter: %v", err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("encrypt: %v", err)
	}
	return out
}

func decrypt(enc []byte, opts DecryptOptions) ([]byte, error) {
	r, err := NewDecrypter(bytes.NewReader(enc), opts)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// splitHeader returns the header (three lines) and the payload.
func splitHeader(t testing.TB, doc []byte) (header, payload []byte) {
	t.Helper()
	n := 0
	for range 3 {
		i := bytes.IndexByte(doc[n:], '\n')
		if i < 0 {
			t.Fatal("header has fewer than three lines")
		}
		n += i + 1
	}
	return doc[:n], doc[n:]
}

func TestRoundTripSegmentBoundaries(t *testing.T) {
	keys := testKeys(t)
	sizes := []int{0, 1, 100, SegmentSize - 1, SegmentSize, SegmentSize + 1, 2 * SegmentSize, 3*SegmentSize + 17}
	for _, cph := range []string{"", CipherAESGCM, CipherChaCha20Poly1305} {
		for _, alg := range []struct{ alg, key string }{{"A256KW", "symmetric-256"}, {"RSA-OAEP-256", "rsa-private.pem"}} {
			for _, size := range sizes {
				plain := pattern(size)
				enc := encrypt(t, plain, EncryptOptions{KeyName: alg.key, Algorithm: alg.alg, Cipher: cph, Wrap: wrapWith(keys)})
				_, payload := splitHeader(t, enc)
				segments := (size + SegmentSize - 1) / SegmentSize
				if want := size + segments*segmentOverhead; len(payload) != want {
					t.Errorf("%s/%s/%d: payload %d bytes, want %d (%d segments)", cph, alg.alg, size, len(payload), want, segments)
				}
				got, err := decrypt(enc, DecryptOptions{Unwrap: unwrapWith(keys)})
				if err != nil {
					t.Fatalf("%s/%s/%d: decrypt: %v", cph, alg.alg, size, err)
				}
				if !bytes.Equal(got, plain) {
					t.Fatalf("%s/%s/%d: plaintext differs", cph, alg.alg, size)
				}
			}
		}
	}
}

// TestDecryptDaprVectors decrypts documents that Dapr's own implementation
// (github.com/dapr/kit/schemes/enc/v1 v0.18.1) produced with the keys in
// testdata, from the same pattern() plaintext: the format is the same.
func TestDecryptDaprVectors(t *testing.T) {
	keys := testKeys(t)
	tests := []struct {
		file string
		size int
	}{
		{"dapr-empty-aes.enc", 0},
		{"dapr-small-aes.enc", 11},
		{"dapr-onesegment-aes.enc", SegmentSize},
		{"dapr-multi-chacha.enc", 3*SegmentSize + 1234},
		{"dapr-twosegments-rsa.enc", 2 * SegmentSize},
	}
	for _, tt := range tests {
		enc, err := os.ReadFile(filepath.Join("testdata", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		got, err := decrypt(enc, DecryptOptions{Unwrap: unwrapWith(keys)})
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if !bytes.Equal(got, pattern(tt.size)) {
			t.Errorf("%s: plaintext differs (%d bytes, want %d)", tt.file, len(got), tt.size)
		}
	}
}

func TestManifest(t *testing.T) {
	keys := testKeys(t)
	tests := []struct {
		name     string
		opts     EncryptOptions
		wantLine string
	}{
		{"key name", EncryptOptions{KeyName: "symmetric-256", Algorithm: "AES"}, `{"k":"symmetric-256","kw":1,"wfk":`},
		{"decryption key name", EncryptOptions{KeyName: "symmetric-256", Algorithm: "A256KW", DecryptionKeyName: "other"}, `{"k":"other","kw":1,`},
		{"omitted", EncryptOptions{KeyName: "symmetric-256", Algorithm: "A256KW", DecryptionKeyName: "other", OmitKeyName: true}, `{"kw":1,"wfk":`},
		{"rsa alias", EncryptOptions{KeyName: "rsa-private.pem", Algorithm: "RSA", Cipher: CipherChaCha20Poly1305}, `{"k":"rsa-private.pem","kw":5,"wfk":`},
	}
	for _, tt := range tests {
		tt.opts.Wrap = wrapWith(keys)
		enc := encrypt(t, []byte("hello"), tt.opts)
		lines := strings.SplitN(string(enc), "\n", 4)
		if lines[0] != SchemeName {
			t.Errorf("%s: first line %q", tt.name, lines[0])
		}
		if !strings.HasPrefix(lines[1], tt.wantLine) {
			t.Errorf("%s: manifest %s, want prefix %s", tt.name, lines[1], tt.wantLine)
		}
		if mac, err := base64.StdEncoding.DecodeString(lines[2]); err != nil || len(mac) != 32 {
			t.Errorf("%s: MAC line %q", tt.name, lines[2])
		}
	}
}

func TestDecryptKeyName(t *testing.T) {
	keys := testKeys(t)
	enc := encrypt(t, []byte("secret"), EncryptOptions{KeyName: "symmetric-256", Algorithm: "A256KW", OmitKeyName: true, Wrap: wrapWith(keys)})
	if _, err := decrypt(enc, DecryptOptions{Unwrap: unwrapWith(keys)}); !errors.Is(err, ErrDecryptionKeyMissing) {
		t.Fatalf("no key name: %v, want ErrDecryptionKeyMissing", err)
	}
	got, err := decrypt(enc, DecryptOptions{KeyName: "symmetric-256", Unwrap: unwrapWith(keys)})
	if err != nil || string(got) != "secret" {
		t.Fatalf("with key name: %q, %v", got, err)
	}
	// The name in the manifest is only a default: the caller's name wins.
	enc = encrypt(t, []byte("secret"), EncryptOptions{KeyName: "symmetric-256", Algorithm: "A256KW", DecryptionKeyName: "missing", Wrap: wrapWith(keys)})
	if _, err := decrypt(enc, DecryptOptions{Unwrap: unwrapWith(keys)}); !errors.Is(err, ErrDecryptionSignature) {
		t.Fatalf("unknown manifest key: %v, want ErrDecryptionSignature", err)
	}
	if got, err := decrypt(enc, DecryptOptions{KeyName: "symmetric-256", Unwrap: unwrapWith(keys)}); err != nil || string(got) != "secret" {
		t.Fatalf("override: %q, %v", got, err)
	}
}

func TestEncryptOptionErrors(t *testing.T) {
	keys := testKeys(t)
	tests := []struct {
		name string
		opts EncryptOptions
		want string
	}{
		{"no key", EncryptOptions{Algorithm: "A256KW", Wrap: wrapWith(keys)}, "option KeyName is required"},
		{"no algorithm", EncryptOptions{KeyName: "symmetric-256", Wrap: wrapWith(keys)}, "option Algorithm is required"},
		{"bad algorithm", EncryptOptions{KeyName: "symmetric-256", Algorithm: "A128KW", Wrap: wrapWith(keys)}, "option Algorithm is not valid: algorithm A128KW is not supported"},
		{"bad cipher", EncryptOptions{KeyName: "symmetric-256", Algorithm: "A256KW", Cipher: "AES-CBC", Wrap: wrapWith(keys)}, "option Cipher is not valid: cipher AES-CBC is not supported"},
		{"wrong key type", EncryptOptions{KeyName: "rsa-private.pem", Algorithm: "A256KW", Wrap: wrapWith(keys)}, "failed to wrap the file key: algorithm A256KW needs a 32-byte symmetric key"},
		{"cbc has no nonce", EncryptOptions{KeyName: "symmetric-256", Algorithm: "A256CBC-NOPAD", Wrap: wrapWith(keys)}, "failed to wrap the file key: invalid nonce"},
		{"missing key", EncryptOptions{KeyName: "nope", Algorithm: "A256KW", Wrap: wrapWith(keys)}, "failed to wrap the file key: key not found"},
	}
	for _, tt := range tests {
		_, err := NewEncrypter(strings.NewReader("x"), tt.opts)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestTamperingDetected(t *testing.T) {
	keys := testKeys(t)
	plain := pattern(2*SegmentSize + 100)
	enc := encrypt(t, plain, EncryptOptions{KeyName: "symmetric-256", Algorithm: "A256KW", Wrap: wrapWith(keys)})
	header, payload := splitHeader(t, enc)
	seg := SegmentSize + segmentOverhead
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 1
		return c
	}
	manifestAt := len(SchemeName) + 5 // inside the manifest line
	tests := []struct {
		name string
		doc  []byte
		want error // nil: any error
	}{
		{"manifest byte", join(flip(header, manifestAt+10), payload), nil},
		{"MAC byte", join(header[:len(header)-5], []byte("AAAA\n"), payload), ErrDecryptionSignature},
		{"first segment byte", join(header, flip(payload, 5)), ErrDecryptionFailed},
		{"last segment tag", join(header, flip(payload, len(payload)-1)), ErrDecryptionFailed},
		{"last segment dropped", join(header, payload[:2*seg]), ErrDecryptionFailed},
		{"cut mid segment", join(header, payload[:seg+10]), ErrDecryptionFailed},
		{"segments swapped", join(header, payload[seg:2*seg], payload[:seg], payload[2*seg:]), ErrDecryptionFailed},
		{"data appended", join(header, payload, []byte("more")), ErrDecryptionFailed},
		{"wrong scheme", join([]byte("dapr.io/enc/v2"), header[len(SchemeName):], payload), nil},
	}
	for _, tt := range tests {
		got, err := decrypt(tt.doc, DecryptOptions{Unwrap: unwrapWith(keys)})
		if err == nil {
			t.Errorf("%s: decrypted %d bytes without error", tt.name, len(got))
			continue
		}
		if tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.want)
		}
	}

	// A wrong key fails the header check, not later.
	other := map[string]*Key{"symmetric-256": {Secret: bytes.Repeat([]byte{1}, 32)}}
	if _, err := NewDecrypter(bytes.NewReader(enc), DecryptOptions{Unwrap: unwrapWith(other)}); !errors.Is(err, ErrDecryptionSignature) {
		t.Errorf("wrong key: %v, want ErrDecryptionSignature", err)
	}
}

// TestUnverifiedDataNotReleased checks that a tampered segment yields no
// bytes of itself: everything before it is returned, then the error.
func TestUnverifiedDataNotReleased(t *testing.T) {
	keys := testKeys(t)
	enc := encrypt(t, pattern(2*SegmentSize+100), EncryptOptions{KeyName: "symmetric-256", Algorithm: "A256KW", Wrap: wrapWith(keys)})
	header, payload := splitHeader(t, enc)
	tampered := bytes.Clone(payload)
	tampered[SegmentSize+segmentOverhead+3] ^= 0xff // second segment
	r, err := NewDecrypter(bytes.NewReader(append(bytes.Clone(header), tampered...)), DecryptOptions{Unwrap: unwrapWith(keys)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if !errors.Is(err, ErrDecryptionFailed) {
		t.Fatalf("error %v, want ErrDecryptionFailed", err)
	}
	if len(got) != SegmentSize || !bytes.Equal(got, pattern(SegmentSize)) {
		t.Fatalf("released %d bytes, want exactly the first segment", len(got))
	}
}

// endless yields n pattern bytes in small reads, like a network stream.
type endless struct{ n, off int }

func (e *endless) Read(p []byte) (int, error) {
	if e.off >= e.n {
		return 0, io.EOF
	}
	if len(p) > 4000 {
		p = p[:4000]
	}
	if rest := e.n - e.off; len(p) > rest {
		p = p[:rest]
	}
	for i := range p {
		p[i] = byte(e.off + i)
	}
	e.off += len(p)
	return len(p), nil
}

// TestLargeStreamBoundedMemory encrypts and decrypts 64 MiB through a
// pipe of readers and checks that the allocations stay at a few segments,
// independent of the size.
func TestLargeStreamBoundedMemory(t *testing.T) {
	keys := testKeys(t)
	const size = 64 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	enc, err := NewEncrypter(&endless{n: size}, EncryptOptions{KeyName: "symmetric-256", Algorithm: "A256KW", Cipher: CipherChaCha20Poly1305, Wrap: wrapWith(keys)})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewDecrypter(enc, DecryptOptions{Unwrap: unwrapWith(keys)})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3000)
	var total int
	for {
		n, err := dec.Read(buf)
		for i := range n {
			if buf[i] != byte(total+i) {
				t.Fatalf("byte %d differs", total+i)
			}
		}
		total += n
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if total != size {
		t.Fatalf("decrypted %d bytes, want %d", total, size)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Fatalf("allocated %d bytes for a %d-byte stream; memory is not bounded", alloc, size)
	}
}

func TestReadHeaderLimits(t *testing.T) {
	keys := testKeys(t)
	tests := []struct {
		name, doc, want string
	}{
		{"empty", "", "invalid header: scheme name not found"},
		{"other scheme", "age-encryption.org/v1\n{}\nAA==\n", "invalid header: unsupported scheme"},
		{"no MAC", SchemeName + "\n{}\n", "invalid header: invalid format"},
		{"bad manifest", SchemeName + "\n{\"kw\":9}\nAA==\n", "invalid header: invalid manifest"},
		{"huge line", SchemeName + "\n" + strings.Repeat("x", 2*SegmentSize) + "\n", "invalid header: header is too long"},
	}
	for _, tt := range tests {
		_, err := NewDecrypter(strings.NewReader(tt.doc), DecryptOptions{Unwrap: unwrapWith(keys)})
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

func BenchmarkEncrypt(b *testing.B) {
	keys := testKeys(b)
	plain := pattern(1 << 20)
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		r, err := NewEncrypter(bytes.NewReader(plain), EncryptOptions{KeyName: "symmetric-256", Algorithm: "A256KW", Wrap: wrapWith(keys)})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}
