package resources

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/uuid"
)

// SecretResolver reads key from secret secretName in the secret store
// storeName.
type SecretResolver func(ctx context.Context, storeName, secretName, key string) (string, error)

// PropertyOptions is what turning metadata items into strings needs from the
// runtime.
type PropertyOptions struct {
	AppID     string
	Namespace string // env NAMESPACE, "" when unset
	// LookupEnv reads daprd's environment (envRef, DAPR_ENV_KEYS, POD_NAME).
	// nil means os.LookupEnv.
	LookupEnv func(key string) (string, bool)
	// ResolveSecret resolves secretKeyRef items; nil when no secret store
	// is available.
	ResolveSecret SecretResolver
}

func (o PropertyOptions) env(key string) (string, bool) {
	if o.LookupEnv == nil {
		return os.LookupEnv(key)
	}
	return o.LookupEnv(key)
}

// Properties converts the component's metadata into the string map handed
// to the component's Init: secretKeyRef, then value, then envRef, then
// templating of {uuid}, {podName}, {namespace} and {appID}. All problems
// are reported together.
func (c Component) Properties(ctx context.Context, opts PropertyOptions) (map[string]string, error) {
	props := make(map[string]string, len(c.Spec.Metadata))
	var problems []error
	for _, it := range c.Spec.Metadata {
		v, err := resolveItem(ctx, it, c.Auth.SecretStore, opts)
		if err == nil {
			v, err = expandTemplates(v, opts)
		}
		if err != nil {
			problems = append(problems, fmt.Errorf("component %q: metadata %q %w", c.Metadata.Name, it.Name, err))
			continue
		}
		props[it.Name] = v
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return props, nil
}

// errNoSecretStore is returned for a secretKeyRef when no resolver exists.
var errNoSecretStore = errors.New("uses secretKeyRef but no secret store is loaded " +
	"(add a secretstores.* component and name it in auth.secretStore, or put the value inline or use envRef)")

// resolveItem returns one item's value before templating.
func resolveItem(ctx context.Context, it MetadataItem, store string, opts PropertyOptions) (string, error) {
	if it.SecretKeyRef.Name != "" {
		return resolveSecret(ctx, it.SecretKeyRef, store, opts)
	}
	if v := it.Value.String(); v != "" || it.EnvRef == "" {
		return v, nil
	}
	return resolveEnvRef(it.EnvRef, opts)
}

func resolveSecret(ctx context.Context, ref SecretKeyRef, store string, opts PropertyOptions) (string, error) {
	if opts.ResolveSecret == nil {
		return "", errNoSecretStore
	}
	// An empty store name is passed on: the resolver applies the default
	// store rule (none in standalone mode, "kubernetes" in Kubernetes mode).
	v, err := opts.ResolveSecret(ctx, store, ref.Name, ref.SecretKey())
	if err != nil {
		return "", fmt.Errorf("could not read secretKeyRef %s/%s from secret store %q: %w", ref.Name, ref.SecretKey(), store, err)
	}
	return v, nil
}

// resolveEnvRef reads an allowed environment variable; an unset variable
// gives "" as in Dapr.
func resolveEnvRef(name string, opts PropertyOptions) (string, error) {
	if err := checkEnvRef(name, opts); err != nil {
		return "", err
	}
	v, _ := opts.env(name)
	return v, nil
}

// checkEnvRef refuses variables that would leak daprd's own secrets, and
// anything outside DAPR_ENV_KEYS (space-separated) when that list is set.
func checkEnvRef(name string, opts PropertyOptions) error {
	upper := strings.ToUpper(name)
	switch {
	case upper == "APP_API_TOKEN":
		return fmt.Errorf("uses envRef %q, which is not allowed (it is the app API token)", name)
	case strings.HasPrefix(upper, "DAPR_"):
		return fmt.Errorf("uses envRef %q, which is not allowed (DAPR_* variables are reserved)", name)
	case strings.Contains(name, " "):
		return fmt.Errorf("uses envRef %q, which is not allowed (names must not contain spaces)", name)
	}
	allow, _ := opts.env("DAPR_ENV_KEYS")
	if allow == "" {
		return nil
	}
	for _, k := range strings.Fields(allow) {
		if strings.ToUpper(k) == upper {
			return nil
		}
	}
	return fmt.Errorf("uses envRef %q, which is not allowed (not listed in DAPR_ENV_KEYS)", name)
}

// expandTemplates substitutes the placeholders Dapr supports in metadata
// values.
func expandTemplates(v string, opts PropertyOptions) (string, error) {
	if !strings.Contains(v, "{") {
		return v, nil
	}
	// Every {uuid} gets its own value.
	for strings.Contains(v, "{uuid}") {
		v = strings.Replace(v, "{uuid}", uuid.NewString(), 1)
	}
	if strings.Contains(v, "{podName}") {
		pod, _ := opts.env("POD_NAME")
		if pod == "" {
			return "", errors.New("uses {podName}, but the POD_NAME environment variable is not set")
		}
		v = strings.ReplaceAll(v, "{podName}", pod)
	}
	v = strings.ReplaceAll(v, "{namespace}", opts.Namespace+"."+opts.AppID)
	v = strings.ReplaceAll(v, "{appID}", opts.AppID)
	return v, nil
}

// HasNamespaceTemplate reports whether any metadata value contains
// {namespace}; such a pub/sub is namespace-scoped (topics get prefixed).
func (c Component) HasNamespaceTemplate() bool {
	for _, it := range c.Spec.Metadata {
		if strings.Contains(it.Value.String(), "{namespace}") {
			return true
		}
	}
	return false
}
