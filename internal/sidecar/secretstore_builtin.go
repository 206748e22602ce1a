package sidecar

import (
	"github.com/outrigger/outrigger/internal/options"
	"github.com/outrigger/outrigger/internal/resources"
)

// builtinSecretStore is the secret store Kubernetes mode provides without
// a component file, as Dapr does.
const builtinSecretStore = "kubernetes"

// withBuiltinSecretStore returns comps plus, in Kubernetes mode, the
// built-in "kubernetes" secret store (type secretstores.kubernetes), unless
// --disable-builtin-k8s-secret-store is given or a component of that name
// is declared. Standalone mode has no built-in store. The store is added
// with ignoreErrors: a sidecar that cannot reach the cluster API starts
// without it and logs why, instead of failing on a component nobody wrote.
func withBuiltinSecretStore(opts options.Options, comps []resources.Component) []resources.Component {
	if opts.Mode != "kubernetes" || opts.DisableBuiltinK8sSecretStore {
		return comps
	}
	for _, c := range comps {
		if c.Name() == builtinSecretStore {
			return comps
		}
	}
	builtin := resources.Component{
		APIVersion: "dapr.io/v1alpha1",
		Kind:       "Component",
		Metadata:   resources.ObjectMeta{Name: builtinSecretStore},
		Spec:       resources.ComponentSpec{Type: "secretstores.kubernetes", Version: "v1", IgnoreErrors: true},
		Source:     resources.Source{File: "(built-in Kubernetes secret store)"},
	}
	return append([]resources.Component{builtin}, comps...)
}

// defaultSecretStore is the store a secretKeyRef without auth.secretStore
// reads from: the built-in one in Kubernetes mode, none in standalone mode.
func defaultSecretStore(opts options.Options) string {
	if opts.Mode == "kubernetes" {
		return builtinSecretStore
	}
	return ""
}
