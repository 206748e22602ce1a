package resources

import (
	"context"
	"errors"
	"fmt"
	"net/url"
)

// HTTPEndpoint is a `kind: HTTPEndpoint`: a non-Dapr HTTP service callable
// through service invocation by name.
type HTTPEndpoint struct {
	APIVersion string           `json:"apiVersion"`
	Kind       string           `json:"kind"`
	Metadata   ObjectMeta       `json:"metadata"`
	Spec       HTTPEndpointSpec `json:"spec"`
	Auth       Auth             `json:"auth,omitzero"`
	Scopes     []string         `json:"scopes,omitempty"`
	Source     Source           `json:"-"`
}

// HTTPEndpointSpec is the spec of an HTTPEndpoint.
type HTTPEndpointSpec struct {
	BaseURL   string         `json:"baseUrl"`
	Headers   []MetadataItem `json:"headers,omitempty"`
	ClientTLS *ClientTLS     `json:"clientTLS,omitempty"`
}

// ClientTLS is the TLS client configuration for an HTTPEndpoint.
type ClientTLS struct {
	RootCA        *TLSDocument `json:"rootCA,omitempty"`
	Certificate   *TLSDocument `json:"certificate,omitempty"`
	PrivateKey    *TLSDocument `json:"privateKey,omitempty"`
	Renegotiation string       `json:"renegotiation,omitempty"` // Never | OnceAsClient | FreelyAsClient
}

// TLSDocument is PEM text given inline or through a secret.
type TLSDocument struct {
	Value        *DynamicValue `json:"value,omitempty"`
	SecretKeyRef *SecretKeyRef `json:"secretKeyRef,omitempty"`
}

// Name returns metadata.name.
func (e HTTPEndpoint) Name() string { return e.Metadata.Name }

// HeaderValues resolves the headers (value, secretKeyRef, envRef) like
// component metadata, without templating.
func (e HTTPEndpoint) HeaderValues(ctx context.Context, opts PropertyOptions) (map[string]string, error) {
	out := make(map[string]string, len(e.Spec.Headers))
	var problems []error
	for _, h := range e.Spec.Headers {
		v, err := resolveItem(ctx, h, e.Auth.SecretStore, opts)
		if err != nil {
			problems = append(problems, fmt.Errorf("http endpoint %q: header %q %w", e.Metadata.Name, h.Name, err))
			continue
		}
		out[h.Name] = v
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return out, nil
}

func (e *HTTPEndpoint) validate() []*Error {
	out := errs(checkName(e.Metadata.Name), checkBaseURL(e.Spec.BaseURL))
	out = append(out, checkItems("spec.headers", e.Spec.Headers)...)
	if t := e.Spec.ClientTLS; t != nil {
		switch t.Renegotiation {
		case "", "Never", "OnceAsClient", "FreelyAsClient":
		default:
			out = append(out, fieldErr("spec.clientTLS.renegotiation",
				"%q is not valid (want Never, OnceAsClient or FreelyAsClient)", t.Renegotiation))
		}
	}
	return out
}

func checkBaseURL(s string) *Error {
	const field = "spec.baseUrl"
	if s == "" {
		return fieldErr(field, "required")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fieldErr(field, "%q is not an http:// or https:// URL", s)
	}
	return nil
}
