package api_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"testing"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc/codes"

	"github.com/outrigger/outrigger/internal/api"
	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/resources"
	"github.com/outrigger/outrigger/internal/secretstores"
)

// fakeSecrets serves fixed secrets and remembers the last request
// metadata; a secret named "boom" fails, and failBulk fails bulk reads.
type fakeSecrets struct {
	data     map[string]map[string]string
	failBulk bool
	mu       sync.Mutex
	lastMD   map[string]string
}

func (f *fakeSecrets) Init(context.Context, secretstores.Metadata) error { return nil }
func (f *fakeSecrets) Features() []secretstores.Feature                  { return nil }
func (f *fakeSecrets) Close() error                                      { return nil }

func (f *fakeSecrets) GetSecret(_ context.Context, name string, md map[string]string) (map[string]string, error) {
	f.mu.Lock()
	f.lastMD = md
	f.mu.Unlock()
	if name == "boom" {
		return nil, errors.New("backend down")
	}
	d, ok := f.data[name]
	if !ok {
		return nil, fmt.Errorf("secret %q: %w", name, secretstores.ErrNotFound)
	}
	return maps.Clone(d), nil
}

func (f *fakeSecrets) BulkGetSecret(context.Context, map[string]string) (map[string]map[string]string, error) {
	if f.failBulk {
		return nil, errors.New("backend down")
	}
	return maps.Clone(f.data), nil
}

func secretCore(scopes []resources.SecretsScope, stores ...*secretstores.Component) *api.Core {
	cfg := &resources.Configuration{Spec: resources.ConfigurationSpec{Secrets: resources.SecretsSpec{Scopes: scopes}}}
	return api.New(api.Config{AppID: "myapp", Secrets: stores, SecretScopes: cfg.SecretAllowed})
}

func secretData() map[string]map[string]string {
	return map[string]map[string]string{
		"a": {"a": "1"}, "b": {"b": "2"}, "c": {"user": "u", "pass": "p"},
	}
}

func TestGetSecretErrors(t *testing.T) {
	ctx := context.Background()
	store := &secretstores.Component{Name: "vault", Store: &fakeSecrets{data: secretData(), failBulk: true}}
	core := secretCore([]resources.SecretsScope{{StoreName: "vault", DeniedSecrets: []string{"b"}}}, store)
	none := api.New(api.Config{AppID: "myapp"})
	tests := []struct {
		name     string
		call     func() error
		code     string
		status   int
		grpcCode codes.Code
		message  string
	}{
		{"get: no stores", func() error {
			_, err := none.GetSecret(ctx, &runtimev1.GetSecretRequest{StoreName: "vault", Key: "a"})
			return err
		}, "ERR_SECRET_STORES_NOT_CONFIGURED", 500, codes.FailedPrecondition, "secret store is not configured"},
		{"bulk: no stores", func() error {
			_, err := none.GetBulkSecret(ctx, &runtimev1.GetBulkSecretRequest{StoreName: "vault"})
			return err
		}, "ERR_SECRET_STORES_NOT_CONFIGURED", 500, codes.FailedPrecondition, "secret store is not configured"},
		{"get: unknown store", func() error {
			_, err := core.GetSecret(ctx, &runtimev1.GetSecretRequest{StoreName: "nope", Key: "a"})
			return err
		}, "ERR_SECRET_STORE_NOT_FOUND", http.StatusUnauthorized, codes.InvalidArgument, "failed finding secret store with key nope"},
		{"bulk: unknown store", func() error {
			_, err := core.GetBulkSecret(ctx, &runtimev1.GetBulkSecretRequest{StoreName: "nope"})
			return err
		}, "ERR_SECRET_STORE_NOT_FOUND", http.StatusUnauthorized, codes.InvalidArgument, "failed finding secret store with key nope"},
		{"get: denied by scopes", func() error {
			_, err := core.GetSecret(ctx, &runtimev1.GetSecretRequest{StoreName: "vault", Key: "b"})
			return err
		}, "ERR_PERMISSION_DENIED", 403, codes.PermissionDenied, `access denied by policy to get "b" from "vault"`},
		{"get: missing secret", func() error {
			_, err := core.GetSecret(ctx, &runtimev1.GetSecretRequest{StoreName: "vault", Key: "zz"})
			return err
		}, "ERR_SECRET_GET", 500, codes.Internal, `failed getting secret with key zz from secret store vault: secret "zz": secret not found`},
		{"get: store error", func() error {
			_, err := core.GetSecret(ctx, &runtimev1.GetSecretRequest{StoreName: "vault", Key: "boom"})
			return err
		}, "ERR_SECRET_GET", 500, codes.Internal, "failed getting secret with key boom from secret store vault: backend down"},
		{"bulk: store error", func() error {
			_, err := core.GetBulkSecret(ctx, &runtimev1.GetBulkSecretRequest{StoreName: "vault"})
			return err
		}, "ERR_SECRET_GET", 500, codes.Internal, "failed getting secrets from secret store vault: backend down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e *apierr.Error
			if err := tt.call(); !errors.As(err, &e) {
				t.Fatalf("err = %v, want an *apierr.Error", err)
			}
			if e.Code != tt.code || e.HTTPStatus != tt.status || e.GRPCCode != tt.grpcCode || e.Message != tt.message {
				t.Fatalf("got %s %d %v %q\nwant %s %d %v %q", e.Code, e.HTTPStatus, e.GRPCCode, e.Message, tt.code, tt.status, tt.grpcCode, tt.message)
			}
		})
	}
}

func TestSecretScopes(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		scope   resources.SecretsScope
		allowed []string // of a, b, c
	}{
		{"no scope for the store", resources.SecretsScope{StoreName: "other", DefaultAccess: "deny"}, []string{"a", "b", "c"}},
		{"allow list", resources.SecretsScope{StoreName: "vault", AllowedSecrets: []string{"a", "c"}}, []string{"a", "c"}},
		{"allow list beats deny list and default deny", resources.SecretsScope{StoreName: "vault", DefaultAccess: "deny", AllowedSecrets: []string{"b"}, DeniedSecrets: []string{"b"}}, []string{"b"}},
		{"deny list", resources.SecretsScope{StoreName: "vault", DeniedSecrets: []string{"a"}}, []string{"b", "c"}},
		{"default deny", resources.SecretsScope{StoreName: "vault", DefaultAccess: "deny"}, nil},
		{"default deny, any case", resources.SecretsScope{StoreName: "vault", DefaultAccess: "Deny"}, nil},
		{"default allow with deny list", resources.SecretsScope{StoreName: "vault", DefaultAccess: "allow", DeniedSecrets: []string{"c"}}, []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &secretstores.Component{Name: "vault", Store: &fakeSecrets{data: secretData()}}
			core := secretCore([]resources.SecretsScope{tt.scope}, store)
			for _, k := range []string{"a", "b", "c"} {
				_, err := core.GetSecret(ctx, &runtimev1.GetSecretRequest{StoreName: "vault", Key: k})
				want := slices.Contains(tt.allowed, k)
				if (err == nil) != want {
					t.Errorf("get %s: err = %v, allowed = %v", k, err, want)
				}
				if !want && apierr.From(err).Code != "ERR_PERMISSION_DENIED" {
					t.Errorf("get %s: err = %v, want ERR_PERMISSION_DENIED", k, err)
				}
			}
			res, err := core.GetBulkSecret(ctx, &runtimev1.GetBulkSecretRequest{StoreName: "vault"})
			if err != nil {
				t.Fatal(err)
			}
			got := slices.Sorted(maps.Keys(res.GetData()))
			if len(got) == 0 {
				got = nil
			}
			if !reflect.DeepEqual(got, tt.allowed) {
				t.Fatalf("bulk returned %v, want %v", got, tt.allowed)
			}
		})
	}
}

func TestGetSecretSuccess(t *testing.T) {
	ctx := context.Background()
	fake := &fakeSecrets{data: secretData()}
	// No SecretScopes at all: everything is allowed.
	core := api.New(api.Config{AppID: "myapp", Secrets: []*secretstores.Component{{Name: "vault", Store: fake}}})
	res, err := core.GetSecret(ctx, &runtimev1.GetSecretRequest{StoreName: "vault", Key: "c", Metadata: map[string]string{"version_id": "3"}})
	if err != nil || !reflect.DeepEqual(res.GetData(), map[string]string{"user": "u", "pass": "p"}) {
		t.Fatalf("get = %v, %v", res, err)
	}
	if fake.lastMD["version_id"] != "3" {
		t.Fatalf("request metadata not passed to the store: %v", fake.lastMD)
	}
	bulk, err := core.GetBulkSecret(ctx, &runtimev1.GetBulkSecretRequest{StoreName: "vault"})
	if err != nil || len(bulk.GetData()) != 3 || bulk.GetData()["c"].GetSecrets()["pass"] != "p" {
		t.Fatalf("bulk = %v, %v", bulk, err)
	}
}
