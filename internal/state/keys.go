package state

import (
	"fmt"
	"strings"
)

// KeySeparator joins the key prefix and the user's key, as Dapr does.
const KeySeparator = "||"

// Key prefix strategies for the keyPrefix component metadata.
const (
	PrefixAppID     = "appid"
	PrefixName      = "name"
	PrefixNamespace = "namespace"
	PrefixNone      = "none"
)

// KeyScheme turns user keys into stored keys for one component, following
// the component's keyPrefix metadata.
type KeyScheme struct {
	prefix string // "" means no prefix
}

// NewKeyScheme builds the scheme for a component. strategy is the keyPrefix
// metadata value ("" = appid); namespace is the NAMESPACE env value.
func NewKeyScheme(strategy, appID, componentName, namespace string) (KeyScheme, error) {
	if strings.Contains(strategy, KeySeparator) {
		return KeyScheme{}, fmt.Errorf("keyPrefix %q must not contain %q", strategy, KeySeparator)
	}
	switch strings.ToLower(strategy) {
	case "", PrefixAppID:
		return KeyScheme{prefix: appID}, nil
	case PrefixName:
		return KeyScheme{prefix: componentName}, nil
	case PrefixNamespace:
		if namespace == "" {
			return KeyScheme{prefix: appID}, nil
		}
		return KeyScheme{prefix: namespace + "." + appID}, nil
	case PrefixNone:
		return KeyScheme{}, nil
	default:
		return KeyScheme{prefix: strategy}, nil
	}
}

// Prefix returns the stored-key prefix including the separator ("" for none).
func (s KeyScheme) Prefix() string {
	if s.prefix == "" {
		return ""
	}
	return s.prefix + KeySeparator
}

// Stored returns the key as stored in the backend.
func (s KeyScheme) Stored(key string) string {
	if s.prefix == "" {
		return key
	}
	return s.prefix + KeySeparator + key
}

// User strips the prefix from a stored key.
func (s KeyScheme) User(stored string) string {
	if s.prefix == "" {
		return stored
	}
	return strings.TrimPrefix(stored, s.prefix+KeySeparator)
}

// ValidateKey rejects user keys that would break the scheme.
func ValidateKey(key string) error {
	if strings.Contains(key, KeySeparator) {
		return &IllegalKeyError{Key: key}
	}
	return nil
}

// IllegalKeyError reports a key containing the separator.
type IllegalKeyError struct{ Key string }

func (e *IllegalKeyError) Error() string {
	return fmt.Sprintf("input key/keyPrefix '%s' can't contain '%s'", e.Key, KeySeparator)
}
