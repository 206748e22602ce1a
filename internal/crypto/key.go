package crypto

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
)

// Key is one key held by a provider: symmetric (Secret), or asymmetric
// (Public, plus Private when the private part is known).
type Key struct {
	// ID is the JWK "kid", when the key has one.
	ID string
	// Algorithm is the JWK "alg": when set, the only algorithm the key may
	// be used with.
	Algorithm string
	// Ops is the JWK "key_ops": when set, the only operations allowed.
	Ops []string

	Secret  []byte
	Private crypto.PrivateKey // *rsa.PrivateKey, *ecdsa.PrivateKey or ed25519.PrivateKey
	Public  crypto.PublicKey  // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// Symmetric reports whether the key is a secret key.
func (k *Key) Symmetric() bool { return k.Secret != nil }

// JWK key_ops values checked before an operation.
const (
	OpWrapKey   = "wrapKey"
	OpUnwrapKey = "unwrapKey"
)

// allows reports whether the key's alg and key_ops restrictions permit the
// operation with the algorithm.
func (k *Key) allows(op, algorithm string) error {
	if len(k.Ops) > 0 && !slices.Contains(k.Ops, op) {
		return fmt.Errorf("key cannot perform the '%s' operation", op)
	}
	if k.Algorithm != "" && k.Algorithm != algorithm {
		return fmt.Errorf("key cannot be used with algorithm '%s'", algorithm)
	}
	return nil
}

// PublicOnly returns a copy of an asymmetric key without its private part.
func (k *Key) PublicOnly() *Key {
	return &Key{ID: k.ID, Algorithm: k.Algorithm, Public: k.Public}
}

// PublicPEM encodes the public key as a PKIX "PUBLIC KEY" PEM block.
func (k *Key) PublicPEM() ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(k.Public)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParseKey reads a key file the way Dapr's local providers do. format is
// "json" (a JWK), "pem", or "" to guess: a JSON object is a JWK unless it is
// exactly 16, 24 or 32 bytes long, "-----" starts a PEM block, and anything
// else is a symmetric key, base64 (standard or URL alphabet) or raw bytes.
func ParseKey(data []byte, format string) (*Key, error) {
	if len(data) == 0 {
		return nil, errors.New("key is empty")
	}
	switch format {
	case "json":
		return ParseJWK(data)
	case "pem":
		return parsePEM(data)
	}
	n := len(data)
	switch {
	case data[0] == '{' && n != 16 && n != 24 && n != 32:
		return ParseJWK(data)
	case n > 10 && bytes.HasPrefix(data, []byte("-----")):
		return parsePEM(data)
	default:
		return &Key{Secret: symmetricBytes(data)}, nil
	}
}

// symmetricBytes decodes base64 (either alphabet, padding optional) or
// takes the bytes as they are.
func symmetricBytes(raw []byte) []byte {
	// Text files usually end with a newline; it is never part of base64.
	trimmed := bytes.TrimRight(bytes.TrimSpace(raw), "=")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		dst := make([]byte, enc.DecodedLen(len(trimmed)))
		if n, err := enc.Decode(dst, trimmed); err == nil && n > 0 {
			return dst[:n]
		}
	}
	return bytes.Clone(raw)
}

// parsePEM reads the first PEM block: PKCS#8, PKCS#1 or SEC 1 private keys,
// PKIX or PKCS#1 public keys, or a certificate's public key.
func parsePEM(data []byte) (*Key, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	switch block.Type {
	case "PRIVATE KEY":
		priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse PKCS#8 private key: %w", err)
		}
		return privateKey(priv)
	case "RSA PRIVATE KEY":
		priv, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse PKCS#1 private key: %w", err)
		}
		return privateKey(priv)
	case "EC PRIVATE KEY":
		priv, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse EC private key: %w", err)
		}
		return privateKey(priv)
	case "PUBLIC KEY":
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse public key: %w", err)
		}
		return publicKey(pub)
	case "RSA PUBLIC KEY":
		pub, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse PKCS#1 public key: %w", err)
		}
		return publicKey(pub)
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		return publicKey(cert.PublicKey)
	default:
		return nil, fmt.Errorf("unsupported PEM block type %q", block.Type)
	}
}

func privateKey(priv any) (*Key, error) {
	switch p := priv.(type) {
	case *rsa.PrivateKey:
		return &Key{Private: p, Public: &p.PublicKey}, nil
	case *ecdsa.PrivateKey:
		return &Key{Private: p, Public: &p.PublicKey}, nil
	case ed25519.PrivateKey:
		return &Key{Private: p, Public: p.Public()}, nil
	default:
		return nil, fmt.Errorf("unsupported private key type %T", priv)
	}
}

func publicKey(pub any) (*Key, error) {
	switch p := pub.(type) {
	case *rsa.PublicKey, ed25519.PublicKey:
		return &Key{Public: p}, nil
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() && p.Curve != elliptic.P384() && p.Curve != elliptic.P521() {
			return nil, errors.New("unsupported elliptic curve")
		}
		return &Key{Public: p}, nil
	default:
		return nil, fmt.Errorf("unsupported public key type %T", pub)
	}
}
