// Package crypto is the cryptography building block (alpha1 API): the
// contract crypto provider components implement, the key model they share,
// and the "dapr.io/enc/v1" streaming encryption scheme (enc.go) that the
// high-level encrypt/decrypt API uses. Implementations live in subpackages.
package crypto

import (
	"context"
	"errors"
	"strings"

	"github.com/outrigger/outrigger/internal/registry"
)

// Registry holds the crypto provider constructors linked into the binary.
var Registry = registry.New[Provider]("crypto")

// ErrKeyNotFound is wrapped by providers when a key does not exist (or is
// not of a kind the operation can use).
var ErrKeyNotFound = errors.New("key not found")

// Metadata initialises a provider: component name and its metadata.
type Metadata struct {
	Name       string
	Properties map[string]string
}

// Provider holds keys and performs the key operations the encryption scheme
// needs. The data itself is never sent to the provider: the runtime encrypts
// it with a random file key and only asks the provider to wrap that key,
// so a provider backed by a remote vault never sees plaintext.
// Implementations are safe for concurrent use.
type Provider interface {
	Init(ctx context.Context, md Metadata) error
	// WrapKey encrypts plaintextKey with the key named keyName using one of
	// the Algorithm* key wrap algorithms. nonce is nil for the scheme.
	WrapKey(ctx context.Context, plaintextKey []byte, algorithm, keyName string, nonce []byte) ([]byte, error)
	// UnwrapKey reverses WrapKey.
	UnwrapKey(ctx context.Context, wrappedKey []byte, algorithm, keyName string, nonce []byte) ([]byte, error)
	// GetKey returns the public part of an asymmetric key; a symmetric key
	// is reported as not found, as Dapr does (its material is never revealed).
	GetKey(ctx context.Context, keyName string) (*Key, error)
	Close() error
}

// Component is a loaded crypto provider.
type Component struct {
	Name, Type, Version string
	Provider            Provider
}

// Prop looks a metadata key up case-insensitively, as Dapr's metadata
// decoder does; an exact match wins over one that differs in case.
func Prop(props map[string]string, name string) (string, bool) {
	if v, ok := props[name]; ok {
		return v, true
	}
	for k, v := range props {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}
