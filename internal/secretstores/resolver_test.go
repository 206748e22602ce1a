package secretstores_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/secretstores"
)

// mapStore serves fixed secrets; a secret named "boom" fails.
type mapStore struct {
	data map[string]map[string]string
}

func (m mapStore) Init(context.Context, secretstores.Metadata) error { return nil }
func (m mapStore) Features() []secretstores.Feature                  { return nil }
func (m mapStore) Close() error                                      { return nil }
func (m mapStore) GetSecret(_ context.Context, name string, _ map[string]string) (map[string]string, error) {
	if name == "boom" {
		return nil, errors.New("backend down")
	}
	d, ok := m.data[name]
	if !ok {
		return nil, fmt.Errorf("secret %q: %w", name, secretstores.ErrNotFound)
	}
	return d, nil
}
func (m mapStore) BulkGetSecret(context.Context, map[string]string) (map[string]map[string]string, error) {
	return m.data, nil
}

func TestResolver(t *testing.T) {
	stores := map[string]*secretstores.Component{
		"vault": {Name: "vault", Type: "secretstores.test", Store: mapStore{data: map[string]map[string]string{
			"redis":  {"password": "pw", "redis": "whole"},
			"single": {"single": "s"},
		}}},
		"kubernetes": {Name: "kubernetes", Store: mapStore{data: map[string]map[string]string{"k": {"k": "from-default"}}}},
	}
	tests := []struct {
		name                        string
		defaultStore                string
		store, secret, key, want    string
		wantErr                     []string
		wantNotLoaded, wantNotFound bool
	}{
		{name: "key inside secret", store: "vault", secret: "redis", key: "password", want: "pw"},
		{name: "empty key means the secret name", store: "vault", secret: "single", want: "s"},
		{name: "default store used when none named", defaultStore: "kubernetes", secret: "k", want: "from-default"},
		{name: "named store wins over default", defaultStore: "kubernetes", store: "vault", secret: "redis", key: "redis", want: "whole"},
		{name: "no store and no default", secret: "redis", key: "password", wantErr: []string{"auth.secretStore"}},
		{name: "unknown store", store: "nope", secret: "redis", wantErr: []string{`"nope"`}, wantNotLoaded: true},
		{name: "missing secret", store: "vault", secret: "gone", key: "x", wantErr: []string{`"vault"`, `"gone"`}, wantNotFound: true},
		{name: "missing key", store: "vault", secret: "redis", key: "user", wantErr: []string{`"vault"`, `"redis"`, `"user"`}},
		{name: "store error", store: "vault", secret: "boom", wantErr: []string{`"vault"`, `"boom"`, "backend down"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := secretstores.Resolver(stores, tt.defaultStore)(context.Background(), tt.store, tt.secret, tt.key)
			if tt.wantErr == nil {
				if err != nil || got != tt.want {
					t.Fatalf("got %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %q, want an error", got)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
			if errors.Is(err, secretstores.ErrStoreNotLoaded) != tt.wantNotLoaded || errors.Is(err, secretstores.ErrNotFound) != tt.wantNotFound {
				t.Errorf("error %q: ErrStoreNotLoaded=%v ErrNotFound=%v", err, errors.Is(err, secretstores.ErrStoreNotLoaded), errors.Is(err, secretstores.ErrNotFound))
			}
		})
	}
}

// Stores added to the map after the resolver is built are seen: the
// loader can build the resolver once and keep adding stores.
func TestResolverSeesLaterStores(t *testing.T) {
	stores := map[string]*secretstores.Component{}
	resolve := secretstores.Resolver(stores, "")
	if _, err := resolve(context.Background(), "late", "a", ""); !errors.Is(err, secretstores.ErrStoreNotLoaded) {
		t.Fatalf("err = %v", err)
	}
	stores["late"] = &secretstores.Component{Name: "late", Store: mapStore{data: map[string]map[string]string{"a": {"a": "1"}}}}
	if v, err := resolve(context.Background(), "late", "a", ""); err != nil || v != "1" {
		t.Fatalf("got %q, %v", v, err)
	}
}

func TestProp(t *testing.T) {
	props := map[string]string{"secretsFile": "exact", "SECRETSFILE": "upper", "Prefix": "p"}
	tests := []struct{ name, want string }{{"secretsFile", "exact"}, {"prefix", "p"}, {"missing", ""}}
	for _, tt := range tests {
		if got, _ := secretstores.Prop(props, tt.name); got != tt.want {
			t.Errorf("Prop(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
