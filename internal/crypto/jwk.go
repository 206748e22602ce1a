package crypto

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// jwk is the JSON Web Key wire form (RFC 7517/7518/8037) for the key types
// providers hold: RSA, EC (P-256/384/521), OKP (Ed25519) and oct.
type jwk struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid,omitempty"`
	Alg    string   `json:"alg,omitempty"`
	Use    string   `json:"use,omitempty"`
	KeyOps []string `json:"key_ops,omitempty"`
	// RSA
	N  string `json:"n,omitempty"`
	E  string `json:"e,omitempty"`
	P  string `json:"p,omitempty"`
	Q  string `json:"q,omitempty"`
	DP string `json:"dp,omitempty"`
	DQ string `json:"dq,omitempty"`
	QI string `json:"qi,omitempty"`
	// EC and OKP
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	// private exponent / scalar / seed (RSA, EC, OKP)
	D string `json:"d,omitempty"`
	// oct
	K string `json:"k,omitempty"`
}

// ParseJWK reads one JSON Web Key.
func ParseJWK(data []byte) (*Key, error) {
	var j jwk
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("parse JWK: %w", err)
	}
	return j.key()
}

// ParseJWKS reads a JSON Web Key Set ({"keys":[…]}); a single JWK object
// is accepted as a set of one, as Dapr's JWKS loader does.
func ParseJWKS(data []byte) ([]*Key, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("parse JWKS: %w", err)
	}
	if set.Keys == nil {
		k, err := ParseJWK(data)
		if err != nil {
			return nil, err
		}
		return []*Key{k}, nil
	}
	keys := make([]*Key, 0, len(set.Keys))
	for i, raw := range set.Keys {
		k, err := ParseJWK(raw)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func (j *jwk) key() (*Key, error) {
	k := &Key{ID: j.Kid, Algorithm: j.Alg, Ops: j.KeyOps}
	var err error
	switch j.Kty {
	case "oct":
		k.Secret, err = b64(j.K)
		if err == nil && len(k.Secret) == 0 {
			err = errors.New("empty symmetric key")
		}
	case "RSA":
		err = j.rsa(k)
	case "EC":
		err = j.ec(k)
	case "OKP":
		err = j.okp(k)
	default:
		err = fmt.Errorf("unsupported key type %q", j.Kty)
	}
	if err != nil {
		return nil, fmt.Errorf("JWK (kty %q): %w", j.Kty, err)
	}
	return k, nil
}

func (j *jwk) rsa(k *Key) error {
	n, err := b64Int(j.N)
	if err != nil {
		return fmt.Errorf("n: %w", err)
	}
	e, err := b64Int(j.E)
	if err != nil {
		return fmt.Errorf("e: %w", err)
	}
	if !e.IsInt64() || e.Int64() < 2 || e.Int64() > 1<<31-1 {
		return errors.New("invalid public exponent")
	}
	pub := &rsa.PublicKey{N: n, E: int(e.Int64())}
	k.Public = pub
	if j.D == "" {
		return nil
	}
	d, err := b64Int(j.D)
	if err != nil {
		return fmt.Errorf("d: %w", err)
	}
	p, err := b64Int(j.P)
	if err != nil {
		return fmt.Errorf("p (private RSA keys need their primes): %w", err)
	}
	q, err := b64Int(j.Q)
	if err != nil {
		return fmt.Errorf("q: %w", err)
	}
	priv := &rsa.PrivateKey{PublicKey: *pub, D: d, Primes: []*big.Int{p, q}}
	if err := priv.Validate(); err != nil {
		return fmt.Errorf("invalid RSA private key: %w", err)
	}
	priv.Precompute()
	k.Private, k.Public = priv, &priv.PublicKey
	return nil
}

func curveByName(name string) (elliptic.Curve, error) {
	switch name {
	case "P-256":
		return elliptic.P256(), nil
	case "P-384":
		return elliptic.P384(), nil
	case "P-521":
		return elliptic.P521(), nil
	}
	return nil, fmt.Errorf("unsupported curve %q", name)
}

func (j *jwk) ec(k *Key) error {
	curve, err := curveByName(j.Crv)
	if err != nil {
		return err
	}
	size := (curve.Params().BitSize + 7) / 8
	if j.D != "" {
		d, err := b64(j.D)
		if err != nil {
			return fmt.Errorf("d: %w", err)
		}
		priv, err := ecdsa.ParseRawPrivateKey(curve, leftPad(d, size))
		if err != nil {
			return fmt.Errorf("invalid EC private key: %w", err)
		}
		k.Private, k.Public = priv, &priv.PublicKey
		return nil
	}
	x, err := b64(j.X)
	if err != nil {
		return fmt.Errorf("x: %w", err)
	}
	y, err := b64(j.Y)
	if err != nil {
		return fmt.Errorf("y: %w", err)
	}
	point := append([]byte{4}, leftPad(x, size)...)
	point = append(point, leftPad(y, size)...)
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return fmt.Errorf("invalid EC public key: %w", err)
	}
	k.Public = pub
	return nil
}

func (j *jwk) okp(k *Key) error {
	if j.Crv != "Ed25519" {
		return fmt.Errorf("unsupported curve %q", j.Crv)
	}
	if j.D != "" {
		seed, err := b64(j.D)
		if err != nil || len(seed) != ed25519.SeedSize {
			return errors.New("invalid Ed25519 private key")
		}
		priv := ed25519.NewKeyFromSeed(seed)
		k.Private, k.Public = priv, priv.Public()
		return nil
	}
	x, err := b64(j.X)
	if err != nil || len(x) != ed25519.PublicKeySize {
		return errors.New("invalid Ed25519 public key")
	}
	k.Public = ed25519.PublicKey(x)
	return nil
}

// MarshalPublicJWK renders the public part of an asymmetric key as a JWK.
func MarshalPublicJWK(k *Key) ([]byte, error) {
	j := jwk{Kid: k.ID, Alg: k.Algorithm}
	switch p := k.Public.(type) {
	case *rsa.PublicKey:
		j.Kty = "RSA"
		j.N = b64enc(p.N.Bytes())
		j.E = b64enc(big.NewInt(int64(p.E)).Bytes())
	case *ecdsa.PublicKey:
		j.Kty = "EC"
		j.Crv = p.Curve.Params().Name
		point, err := p.Bytes()
		if err != nil {
			return nil, fmt.Errorf("encode EC public key: %w", err)
		}
		size := (len(point) - 1) / 2
		j.X, j.Y = b64enc(point[1:1+size]), b64enc(point[1+size:])
	case ed25519.PublicKey:
		j.Kty, j.Crv, j.X = "OKP", "Ed25519", b64enc(p)
	default:
		return nil, errors.New("key has no public part")
	}
	return json.Marshal(j)
}

func b64(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("missing value")
	}
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

func b64Int(s string) (*big.Int, error) {
	b, err := b64(s)
	if err != nil {
		return nil, err
	}
	return new(big.Int).SetBytes(b), nil
}

func b64enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// leftPad restores leading zero bytes that some encoders strip.
func leftPad(b []byte, size int) []byte {
	if len(b) >= size {
		return b
	}
	out := make([]byte, size)
	copy(out[size-len(b):], b)
	return out
}
