package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
)

// secret is the part of a core/v1 Secret the store reads. Data values are
// base64 in the API's JSON; encoding/json decodes that into []byte.
type secret struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Data map[string][]byte `json:"data"`
}

type secretList struct {
	Items []secret `json:"items"`
}

// secretsAPI is the part of the Kubernetes API the store uses. Errors are
// the API's own (*apierrors.StatusError), so callers can tell NotFound.
type secretsAPI interface {
	Get(ctx context.Context, namespace, name string) (*secret, error)
	List(ctx context.Context, namespace string) (*secretList, error)
}

// restSecrets reads Secrets with client-go's REST client (config, auth,
// TLS, retries, API errors) but decodes the two fields it needs itself.
// This is on purpose: the generated clientset links every API group's
// types, apply configurations and OpenAPI models (about 25 MB of binary),
// and k8s.io/api/core/v1 alone about 4 MB, for two GET requests.
type restSecrets struct {
	client rest.Interface
}

// coreV1 is the core API group ("" group, version v1), served under /api.
var coreV1 = schema.GroupVersion{Version: "v1"}

func newRESTSecrets(cfg *rest.Config) (*restSecrets, error) {
	// The client decodes only API errors (metav1.Status) with its scheme;
	// responses are JSON (client-go's default Accept) decoded below.
	scheme := runtime.NewScheme()
	metav1.AddToGroupVersion(scheme, coreV1)

	c := rest.CopyConfig(cfg)
	c.APIPath = "/api"
	c.GroupVersion = &coreV1
	c.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	if c.UserAgent == "" {
		c.UserAgent = "outrigger"
	}
	client, err := rest.RESTClientFor(c)
	if err != nil {
		return nil, err
	}
	return &restSecrets{client: client}, nil
}

func (r *restSecrets) Get(ctx context.Context, namespace, name string) (*secret, error) {
	var s secret
	if err := r.get(ctx, r.client.Get().Namespace(namespace).Resource("secrets").Name(name), &s); err != nil {
		return nil, err
	}
	return &s, nil
}

func (r *restSecrets) List(ctx context.Context, namespace string) (*secretList, error) {
	var l secretList
	if err := r.get(ctx, r.client.Get().Namespace(namespace).Resource("secrets"), &l); err != nil {
		return nil, err
	}
	return &l, nil
}

func (r *restSecrets) get(ctx context.Context, req *rest.Request, into any) error {
	res := req.Do(ctx)
	// Error, unlike Raw, turns the API's Status body into a typed error
	// (NotFound, Forbidden, ...) with the server's message.
	if err := res.Error(); err != nil {
		return err
	}
	raw, _ := res.Raw()
	if err := json.Unmarshal(raw, into); err != nil {
		return fmt.Errorf("decode %s: %w", req.URL().Path, err)
	}
	return nil
}
