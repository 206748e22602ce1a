package crypto

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
)

// Key wrap algorithm names (JWA names; the CBC ones are Dapr's).
const (
	AlgorithmA128KW       = "A128KW"
	AlgorithmA192KW       = "A192KW"
	AlgorithmA256KW       = "A256KW"
	AlgorithmA128CBCNoPad = "A128CBC-NOPAD"
	AlgorithmA192CBCNoPad = "A192CBC-NOPAD"
	AlgorithmA256CBCNoPad = "A256CBC-NOPAD"
	AlgorithmRSAOAEP256   = "RSA-OAEP-256"
)

// ErrInvalidNonce is returned by the CBC wrap algorithms without a 16-byte
// IV. The encryption scheme passes none, so, exactly as in Dapr, the CBC
// algorithms are accepted by name but fail when the file key is wrapped.
var ErrInvalidNonce = errors.New("invalid nonce")

// WrapKey encrypts plaintext (a key) with kek.
func WrapKey(kek *Key, plaintext []byte, algorithm string, nonce []byte) ([]byte, error) {
	if err := kek.allows(OpWrapKey, algorithm); err != nil {
		return nil, err
	}
	switch algorithm {
	case AlgorithmA128KW, AlgorithmA192KW, AlgorithmA256KW:
		block, err := aesKey(kek, algorithm)
		if err != nil {
			return nil, err
		}
		return aesKeyWrap(block, plaintext)
	case AlgorithmA128CBCNoPad, AlgorithmA192CBCNoPad, AlgorithmA256CBCNoPad:
		return aesCBC(kek, algorithm, nonce, plaintext, false)
	case AlgorithmRSAOAEP256:
		pub, ok := kek.Public.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("algorithm RSA-OAEP-256 needs an RSA key")
		}
		return rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, plaintext, nil)
	default:
		return nil, fmt.Errorf("unsupported key wrap algorithm %q", algorithm)
	}
}

// aesCBC is the unpadded AES-CBC wrap (decrypt false) and unwrap.
func aesCBC(kek *Key, algorithm string, nonce, data []byte, decrypt bool) ([]byte, error) {
	block, err := aesKey(kek, algorithm)
	if err != nil {
		return nil, err
	}
	if len(nonce) != aes.BlockSize {
		return nil, ErrInvalidNonce
	}
	if decrypt {
		if len(data) == 0 || len(data)%aes.BlockSize != 0 {
			return nil, errors.New("ciphertext length is not a multiple of the block size")
		}
		out := make([]byte, len(data))
		cipher.NewCBCDecrypter(block, nonce).CryptBlocks(out, data)
		return out, nil
	}
	if len(data)%aes.BlockSize != 0 {
		return nil, errors.New("plaintext length is not a multiple of the block size")
	}
	out := make([]byte, len(data))
	cipher.NewCBCEncrypter(block, nonce).CryptBlocks(out, data)
	return out, nil
}

// UnwrapKey decrypts a key wrapped by WrapKey.
func UnwrapKey(kek *Key, wrapped []byte, algorithm string, nonce []byte) ([]byte, error) {
	if err := kek.allows(OpUnwrapKey, algorithm); err != nil {
		return nil, err
	}
	switch algorithm {
	case AlgorithmA128KW, AlgorithmA192KW, AlgorithmA256KW:
		block, err := aesKey(kek, algorithm)
		if err != nil {
			return nil, err
		}
		return aesKeyUnwrap(block, wrapped)
	case AlgorithmA128CBCNoPad, AlgorithmA192CBCNoPad, AlgorithmA256CBCNoPad:
		return aesCBC(kek, algorithm, nonce, wrapped, true)
	case AlgorithmRSAOAEP256:
		priv, ok := kek.Private.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("algorithm RSA-OAEP-256 needs an RSA private key")
		}
		return rsa.DecryptOAEP(sha256.New(), rand.Reader, priv, wrapped, nil)
	default:
		return nil, fmt.Errorf("unsupported key wrap algorithm %q", algorithm)
	}
}

// aesKey checks that kek is a symmetric key of the size the algorithm
// names (A128… = 16 bytes) and returns its block cipher.
func aesKey(kek *Key, algorithm string) (cipher.Block, error) {
	want := map[string]int{"128": 16, "192": 24, "256": 32}[algorithm[1:4]]
	if !kek.Symmetric() || len(kek.Secret) != want {
		return nil, fmt.Errorf("algorithm %s needs a %d-byte symmetric key", algorithm, want)
	}
	return aes.NewCipher(kek.Secret)
}

// keyWrapIV is RFC 3394's default initial value.
var keyWrapIV = []byte{0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6}

// aesKeyWrap is the RFC 3394 key wrap (section 2.2.1, index form).
func aesKeyWrap(block cipher.Block, plaintext []byte) ([]byte, error) {
	if len(plaintext) < 16 || len(plaintext)%8 != 0 {
		return nil, errors.New("key to wrap must be a multiple of 8 bytes, at least 16")
	}
	n := len(plaintext) / 8
	out := make([]byte, 8+len(plaintext))
	copy(out, keyWrapIV)
	copy(out[8:], plaintext)
	var b [16]byte
	for j := range 6 {
		for i := 1; i <= n; i++ {
			copy(b[:8], out[:8])
			copy(b[8:], out[8*i:8*i+8])
			block.Encrypt(b[:], b[:])
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(out[:8], binary.BigEndian.Uint64(b[:8])^t)
			copy(out[8*i:8*i+8], b[8:])
		}
	}
	return out, nil
}

// aesKeyUnwrap reverses aesKeyWrap and checks the integrity value.
func aesKeyUnwrap(block cipher.Block, wrapped []byte) ([]byte, error) {
	if len(wrapped) < 24 || len(wrapped)%8 != 0 {
		return nil, errors.New("wrapped key has an invalid length")
	}
	n := len(wrapped)/8 - 1
	r := make([]byte, len(wrapped))
	copy(r, wrapped)
	var b [16]byte
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(b[:8], binary.BigEndian.Uint64(r[:8])^t)
			copy(b[8:], r[8*i:8*i+8])
			block.Decrypt(b[:], b[:])
			copy(r[:8], b[:8])
			copy(r[8*i:8*i+8], b[8:])
		}
	}
	if subtle.ConstantTimeCompare(r[:8], keyWrapIV) != 1 {
		return nil, errors.New("key unwrap failed: integrity check mismatch")
	}
	return r[8:], nil
}

// LocalKeys implements a Provider's key operations for keys the sidecar
// holds itself (local files, JWKS): it looks the key up and performs the
// operation in process. Providers embed it and set Lookup.
type LocalKeys struct {
	// Lookup returns the named key (private, public or symmetric); a
	// missing key is an error wrapping ErrKeyNotFound.
	Lookup func(ctx context.Context, name string) (*Key, error)
}

// WrapKey implements Provider.
func (l LocalKeys) WrapKey(ctx context.Context, plaintextKey []byte, algorithm, keyName string, nonce []byte) ([]byte, error) {
	kek, err := l.Lookup(ctx, keyName)
	if err != nil {
		return nil, fmt.Errorf("failed to retrieve the key encryption key: %w", err)
	}
	return WrapKey(kek, plaintextKey, algorithm, nonce)
}

// UnwrapKey implements Provider.
func (l LocalKeys) UnwrapKey(ctx context.Context, wrappedKey []byte, algorithm, keyName string, nonce []byte) ([]byte, error) {
	kek, err := l.Lookup(ctx, keyName)
	if err != nil {
		return nil, fmt.Errorf("failed to retrieve the key encryption key: %w", err)
	}
	return UnwrapKey(kek, wrappedKey, algorithm, nonce)
}

// GetKey implements Provider: the public part of an asymmetric key.
func (l LocalKeys) GetKey(ctx context.Context, keyName string) (*Key, error) {
	k, err := l.Lookup(ctx, keyName)
	if err != nil {
		return nil, err
	}
	if k.Symmetric() {
		return nil, ErrKeyNotFound
	}
	return k.PublicOnly(), nil
}
