// Package kubernetes is the secretstores.kubernetes component: a secret is
// a Kubernetes Secret, read through the core/v1 API of a cluster.
package kubernetes

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"

	"github.com/outrigger/outrigger/internal/secretstores"
)

// Type is the component type.
const Type = "secretstores.kubernetes"

func init() {
	secretstores.Registry.Register(Type, func() secretstores.Store { return New() })
}

// Store reads the Secrets of one cluster. Safe for concurrent use after
// Init: the client is.
type Store struct {
	// api reads Secrets; set by Init, or up front by tests.
	api secretsAPI
	// inCluster builds the pod's own API config; replaced in tests.
	inCluster func() (*rest.Config, error)

	sidecarNamespace string
	defaultNamespace string
}

// New returns a store that connects at Init.
func New() *Store { return &Store{inCluster: rest.InClusterConfig} }

// newWithAPI returns a store over an existing client (tests pass one over
// a fake clientset); Init then only reads the metadata.
func newWithAPI(api secretsAPI) *Store {
	return &Store{api: api, inCluster: rest.InClusterConfig}
}

// Init reads the metadata and builds the client. Building it does not
// contact the API server, so a sidecar may start before the cluster's API
// is reachable; reads fail until it is.
func (s *Store) Init(_ context.Context, md secretstores.Metadata) error {
	s.sidecarNamespace = md.Namespace
	s.defaultNamespace, _ = secretstores.Prop(md.Properties, "defaultNamespace")
	if s.api != nil {
		return nil
	}
	kubeconfig, _ := secretstores.Prop(md.Properties, "kubeconfigPath")
	cfg, err := restConfig(kubeconfig, s.inCluster)
	if err != nil {
		return err
	}
	api, err := newRESTSecrets(cfg)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	s.api = api
	return nil
}

// Features: none, as in Dapr, although every Secret may hold several keys.
func (s *Store) Features() []secretstores.Feature { return []secretstores.Feature{} }

// GetSecret returns every data key of the Secret called name.
func (s *Store) GetSecret(ctx context.Context, name string, md map[string]string) (map[string]string, error) {
	ns, err := s.namespace(md)
	if err != nil {
		return nil, err
	}
	secret, err := s.api.Get(ctx, ns, name)
	if err != nil {
		return nil, apiError(err)
	}
	return stringData(secret.Data), nil
}

// BulkGetSecret returns every Secret of the namespace, keyed by name.
func (s *Store) BulkGetSecret(ctx context.Context, md map[string]string) (map[string]map[string]string, error) {
	ns, err := s.namespace(md)
	if err != nil {
		return nil, err
	}
	list, err := s.api.List(ctx, ns)
	if err != nil {
		return nil, apiError(err)
	}
	out := make(map[string]map[string]string, len(list.Items))
	for _, item := range list.Items {
		out[item.Metadata.Name] = stringData(item.Data)
	}
	return out, nil
}

// Close does nothing: the client holds no resources that need releasing.
func (s *Store) Close() error { return nil }

var errNoNamespace = errors.New("no namespace to read secrets from: pass the request metadata namespace, " +
	"set NAMESPACE for the sidecar, or set the component's defaultNamespace metadata")

// namespace picks where to read, in Dapr's order: the request's metadata
// namespace, then the sidecar's namespace, then the component's
// defaultNamespace.
func (s *Store) namespace(md map[string]string) (string, error) {
	for _, ns := range []string{md["namespace"], s.sidecarNamespace, s.defaultNamespace} {
		if ns != "" {
			return ns, nil
		}
	}
	return "", errNoNamespace
}

// stringData converts a Secret's data; values are bytes, handed on as
// strings like Dapr does.
func stringData(data map[string][]byte) map[string]string {
	out := make(map[string]string, len(data))
	for k, v := range data {
		out[k] = string(v)
	}
	return out
}

// apiError keeps the API server's message (`secrets "x" not found`, `...
// is forbidden: ...`), which already names the secret and namespace and is
// what Dapr reports to the app, and marks a missing Secret as
// secretstores.ErrNotFound.
func apiError(err error) error {
	if apierrors.IsNotFound(err) {
		return notFoundError{err}
	}
	return err
}

type notFoundError struct{ err error }

func (e notFoundError) Error() string   { return e.err.Error() }
func (e notFoundError) Unwrap() []error { return []error{e.err, secretstores.ErrNotFound} }
