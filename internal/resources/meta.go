package resources

import (
	"fmt"
	"slices"
	"strings"
)

// ObjectMeta is the Kubernetes-style metadata block every resource has.
type ObjectMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// MetadataItem is one name/value pair of component metadata (also used for
// HTTPEndpoint headers). The value comes from value, secretKeyRef or envRef.
type MetadataItem struct {
	Name         string       `json:"name"`
	Value        DynamicValue `json:"value,omitzero"`
	SecretKeyRef SecretKeyRef `json:"secretKeyRef,omitzero"`
	EnvRef       string       `json:"envRef,omitempty"`
}

// SecretKeyRef points at a key of a secret in the resource's secret store.
type SecretKeyRef struct {
	Name string `json:"name"`
	Key  string `json:"key,omitempty"` // defaults to Name
}

// SecretKey returns the key to read inside the secret.
func (r SecretKeyRef) SecretKey() string {
	if r.Key != "" {
		return r.Key
	}
	return r.Name
}

// Auth names the secret store used to resolve secretKeyRefs.
type Auth struct {
	SecretStore string `json:"secretStore,omitempty"`
}

// Source says where a resource was defined, for messages.
type Source struct {
	File     string
	Document int
}

func (s Source) String() string {
	return fmt.Sprintf("%s document %d", s.File, s.Document)
}

// checkName validates metadata.name: it ends up in URL paths, so it must be
// a valid path segment.
func checkName(name string) *Error {
	const field = "metadata.name"
	switch {
	case name == "":
		return fieldErr(field, "required")
	case name == "." || name == "..":
		return fieldErr(field, "%q is not a valid name", name)
	case strings.ContainsAny(name, "/%"):
		return fieldErr(field, "%q is not a valid name (it must not contain \"/\" or \"%%\")", name)
	}
	return nil
}

// checkItems validates a list of name/value pairs at path.
func checkItems(path string, items []MetadataItem) []*Error {
	var out []*Error
	for i, it := range items {
		p := indexPath(path, i)
		if it.Name == "" {
			out = append(out, fieldErr(joinPath(p, "name"), "required"))
		}
		if it.SecretKeyRef.Name == "" && it.SecretKeyRef.Key != "" {
			out = append(out, fieldErr(joinPath(p, "secretKeyRef.name"), "required when secretKeyRef.key is set"))
		}
	}
	return out
}

// inScope applies the namespace and scopes rules shared by all resources.
func inScope(meta ObjectMeta, scopes []string, appID, namespace string) bool {
	if namespace != "" && meta.Namespace != "" && meta.Namespace != namespace {
		return false
	}
	return len(scopes) == 0 || slices.Contains(scopes, appID)
}
