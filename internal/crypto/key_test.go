package crypto

import (
	"bytes"
	"context"
	stdcrypto "crypto"
	"crypto/aes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RFC 3394 section 4 test vectors.
func TestAESKeyWrapRFC3394(t *testing.T) {
	tests := []struct{ kek, data, wrapped string }{
		{"000102030405060708090A0B0C0D0E0F", "00112233445566778899AABBCCDDEEFF", "1FA68B0A8112B447 AEF34BD8FB5A7B82 9D3E862371D2CFE5"},
		{"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", "00112233445566778899AABBCCDDEEFF", "64E8C3F9CE0F5BA2 63E9777905818A2A 93C8191E7D6E8AE7"},
		{"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
			"28C9F404C4B810F4 CBCCB35CFB87F826 3F5786E2D80ED326 CBC7F0E71A99F43B FB988B9B7A02DD21"},
	}
	for _, tt := range tests {
		block, err := aes.NewCipher(unhex(t, tt.kek))
		if err != nil {
			t.Fatal(err)
		}
		got, err := aesKeyWrap(block, unhex(t, tt.data))
		if err != nil || !bytes.Equal(got, unhex(t, tt.wrapped)) {
			t.Fatalf("wrap = %X, %v; want %s", got, err, tt.wrapped)
		}
		back, err := aesKeyUnwrap(block, got)
		if err != nil || !bytes.Equal(back, unhex(t, tt.data)) {
			t.Fatalf("unwrap = %X, %v", back, err)
		}
		got[3] ^= 1
		if _, err := aesKeyUnwrap(block, got); err == nil {
			t.Fatal("unwrap of a tampered key succeeded")
		}
	}
}

func pemOf(t *testing.T, typ string, der []byte) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestParseKeyFormats(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	pkix := func(k any) []byte {
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	secret := bytes.Repeat([]byte{7}, 32)

	tests := []struct {
		name        string
		data        []byte
		format      string
		wantPrivate bool
		wantSecret  []byte
	}{
		{"rsa pkcs8", pemOf(t, "PRIVATE KEY", pkcs8(rsaKey)), "", true, nil},
		{"rsa pkcs1", pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), "pem", true, nil},
		{"rsa public", pemOf(t, "PUBLIC KEY", pkix(&rsaKey.PublicKey)), "", false, nil},
		{"rsa pkcs1 public", pemOf(t, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)), "", false, nil},
		{"ec sec1", pemOf(t, "EC PRIVATE KEY", ecDER), "", true, nil},
		{"ed25519 pkcs8", pemOf(t, "PRIVATE KEY", pkcs8(edKey)), "", true, nil},
		{"oct jwk", []byte(`{"kty":"oct","k":"` + b64enc(secret) + `","kid":"a"}`), "json", false, secret},
		{"raw symmetric", secret, "", false, secret},
		{"base64 symmetric", []byte("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n"), "", false, secret},
		{"base64url symmetric", []byte(b64enc(secret)), "", false, secret},
	}
	for _, tt := range tests {
		k, err := ParseKey(tt.data, tt.format)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if (k.Private != nil) != tt.wantPrivate {
			t.Errorf("%s: private part present = %v", tt.name, k.Private != nil)
		}
		if tt.wantSecret != nil && !bytes.Equal(k.Secret, tt.wantSecret) {
			t.Errorf("%s: secret %x", tt.name, k.Secret)
		}
		if tt.wantSecret == nil && k.Public == nil {
			t.Errorf("%s: no public key", tt.name)
		}
	}
	for _, bad := range [][]byte{nil, []byte("-----BEGIN NOTHING-----\nAAAA\n-----END NOTHING-----\n"), []byte(`{"kty":"XYZ"}  `)} {
		if _, err := ParseKey(bad, ""); err == nil {
			t.Errorf("ParseKey(%q) succeeded", bad)
		}
	}
}

// TestJWKRoundTrip parses JWKs built from real keys and checks the key
// material and the public JWK rendering.
func TestJWKRoundTrip(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	ecPoint, _ := ecKey.PublicKey.Bytes()
	size := (len(ecPoint) - 1) / 2
	ecD, _ := ecKey.Bytes()

	rsaJWK := map[string]any{"kty": "RSA", "kid": "r1", "alg": "RSA-OAEP-256",
		"n": b64enc(rsaKey.N.Bytes()), "e": "AQAB", "d": b64enc(rsaKey.D.Bytes()),
		"p": b64enc(rsaKey.Primes[0].Bytes()), "q": b64enc(rsaKey.Primes[1].Bytes())}
	ecJWK := map[string]any{"kty": "EC", "kid": "e1", "crv": "P-384", "x": b64enc(ecPoint[1 : 1+size]), "y": b64enc(ecPoint[1+size:]), "d": b64enc(ecD)}
	edJWK := map[string]any{"kty": "OKP", "kid": "o1", "crv": "Ed25519", "x": b64enc(edPub), "d": b64enc(edKey.Seed())}

	for _, j := range []map[string]any{rsaJWK, ecJWK, edJWK} {
		raw, _ := json.Marshal(j)
		k, err := ParseJWK(raw)
		if err != nil {
			t.Fatalf("%s: %v", j["kid"], err)
		}
		if k.Private == nil || k.ID != j["kid"] {
			t.Fatalf("%s: parsed %+v", j["kid"], k)
		}
		pub, err := MarshalPublicJWK(k)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(pub), `"d"`) {
			t.Fatalf("%s: public JWK leaks the private part: %s", j["kid"], pub)
		}
		back, err := ParseJWK(pub)
		if err != nil {
			t.Fatal(err)
		}
		eq, ok := back.Public.(interface {
			Equal(stdcrypto.PublicKey) bool
		})
		if !ok || !eq.Equal(k.Public) {
			t.Fatalf("%s: public key does not round-trip", j["kid"])
		}
	}
	if !rsaKeyEqual(t, rsaJWK, rsaKey) {
		t.Fatal("RSA private key differs")
	}
}

func rsaKeyEqual(t *testing.T, j map[string]any, want *rsa.PrivateKey) bool {
	raw, _ := json.Marshal(j)
	k, err := ParseJWK(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k.Private.(*rsa.PrivateKey).Equal(want)
}

func TestParseJWKS(t *testing.T) {
	set := `{"keys":[{"kty":"oct","kid":"a","k":"AAAAAAAAAAAAAAAAAAAAAA"},{"kty":"oct","kid":"b","k":"AQEBAQEBAQEBAQEBAQEBAQ"}]}`
	keys, err := ParseJWKS([]byte(set))
	if err != nil || len(keys) != 2 || keys[1].ID != "b" || len(keys[1].Secret) != 16 {
		t.Fatalf("ParseJWKS = %+v, %v", keys, err)
	}
	single, err := ParseJWKS([]byte(`{"kty":"oct","kid":"a","k":"AAAAAAAAAAAAAAAAAAAAAA"}`))
	if err != nil || len(single) != 1 {
		t.Fatalf("single JWK: %v, %v", single, err)
	}
	if _, err := ParseJWKS([]byte(`{"keys":[{"kty":"RSA"}]}`)); err == nil {
		t.Fatal("incomplete RSA key accepted")
	}
}

func TestWrapRestrictionsAndAlgorithms(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	fileKey := bytes.Repeat([]byte{9}, 32)
	iv := bytes.Repeat([]byte{1}, 16)
	tests := []struct {
		name    string
		key     *Key
		alg     string
		nonce   []byte
		wantErr string
	}{
		{"A128KW", &Key{Secret: make([]byte, 16)}, AlgorithmA128KW, nil, ""},
		{"A192KW", &Key{Secret: make([]byte, 24)}, AlgorithmA192KW, nil, ""},
		{"A256KW", &Key{Secret: make([]byte, 32)}, AlgorithmA256KW, nil, ""},
		{"A128CBC with IV", &Key{Secret: make([]byte, 16)}, AlgorithmA128CBCNoPad, iv, ""},
		{"A192CBC without IV", &Key{Secret: make([]byte, 24)}, AlgorithmA192CBCNoPad, nil, "invalid nonce"},
		{"RSA-OAEP-256", &Key{Private: rsaKey, Public: &rsaKey.PublicKey}, AlgorithmRSAOAEP256, nil, ""},
		{"size mismatch", &Key{Secret: make([]byte, 16)}, AlgorithmA256KW, nil, "algorithm A256KW needs a 32-byte symmetric key"},
		{"alg restriction", &Key{Secret: make([]byte, 32), Algorithm: "A128KW"}, AlgorithmA256KW, nil, "key cannot be used with algorithm 'A256KW'"},
		{"key_ops restriction", &Key{Secret: make([]byte, 32), Ops: []string{"encrypt"}}, AlgorithmA256KW, nil, "key cannot perform the 'wrapKey' operation"},
		{"unknown algorithm", &Key{Secret: make([]byte, 32)}, "ROT13", nil, `unsupported key wrap algorithm "ROT13"`},
	}
	for _, tt := range tests {
		wrapped, err := WrapKey(tt.key, fileKey, tt.alg, tt.nonce)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("%s: error %v, want %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: wrap: %v", tt.name, err)
		}
		got, err := UnwrapKey(tt.key, wrapped, tt.alg, tt.nonce)
		if err != nil || !bytes.Equal(got, fileKey) {
			t.Fatalf("%s: unwrap = %x, %v", tt.name, got, err)
		}
	}
}

func TestLocalKeysGetKey(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	keys := map[string]*Key{
		"sym": {Secret: make([]byte, 32)},
		"rsa": {ID: "rsa-kid", Private: rsaKey, Public: &rsaKey.PublicKey},
	}
	l := LocalKeys{Lookup: func(_ context.Context, name string) (*Key, error) {
		if k, ok := keys[name]; ok {
			return k, nil
		}
		return nil, ErrKeyNotFound
	}}
	if _, err := l.GetKey(context.Background(), "sym"); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("symmetric key: %v, want ErrKeyNotFound", err)
	}
	k, err := l.GetKey(context.Background(), "rsa")
	if err != nil || k.Private != nil || k.ID != "rsa-kid" {
		t.Fatalf("GetKey = %+v, %v", k, err)
	}
	p, err := k.PublicPEM()
	if err != nil || !bytes.HasPrefix(p, []byte("-----BEGIN PUBLIC KEY-----")) {
		t.Fatalf("PublicPEM = %s, %v", p, err)
	}
	if _, err := l.WrapKey(context.Background(), make([]byte, 32), AlgorithmA256KW, "missing", nil); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("WrapKey with a missing key: %v", err)
	}
}
