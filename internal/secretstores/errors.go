package secretstores

import (
	"errors"
	"strings"
)

// ErrNotFound is wrapped by a store's GetSecret when the secret does not
// exist.
var ErrNotFound = errors.New("secret not found")

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
