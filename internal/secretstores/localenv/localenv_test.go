package localenv

import (
	"context"
	"reflect"
	"testing"

	"github.com/outrigger/outrigger/internal/secretstores"
)

// fakeEnv is an environment held in a map.
func fakeEnv(vars map[string]string) Env {
	return Env{
		Lookup: func(name string) (string, bool) { v, ok := vars[name]; return v, ok },
		Environ: func() []string {
			out := make([]string, 0, len(vars))
			for k, v := range vars {
				out = append(out, k+"="+v)
			}
			return out
		},
	}
}

var env = map[string]string{
	"HOME":            "/home/me",
	"MYAPP_DB":        "postgres://x",
	"MYAPP_TOKEN":     "t=1", // value with '='
	"MYAPP_":          "bare prefix",
	"APP_API_TOKEN":   "app-secret",
	"DAPR_API_TOKEN":  "dapr-secret",
	"dapr_lowercase":  "also reserved",
	"MYAPP_DAPR_X":    "allowed: the full name is not DAPR_*",
	"myapp_lowercase": "prefix is case-sensitive here",
}

func newStore(t *testing.T, prefix string) *Store {
	t.Helper()
	s := NewWithEnv(fakeEnv(env))
	props := map[string]string{}
	if prefix != "" {
		props["prefix"] = prefix
	}
	if err := s.Init(context.Background(), secretstores.Metadata{Name: "env", Properties: props}); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestGetSecret(t *testing.T) {
	tests := []struct {
		name, prefix, key, want string
	}{
		{"no prefix", "", "HOME", "/home/me"},
		{"prefix added", "MYAPP_", "DB", "postgres://x"},
		{"value with =", "MYAPP_", "TOKEN", "t=1"},
		{"unset gives empty", "", "NOPE", ""},
		{"prefix limits reads", "MYAPP_", "HOME", ""},
		{"app token refused", "", "APP_API_TOKEN", ""},
		{"DAPR_ refused", "", "DAPR_API_TOKEN", ""},
		{"DAPR_ refused whatever the case", "", "dapr_lowercase", ""},
		{"DAPR_ refused after the prefix is applied", "DAPR_", "API_TOKEN", ""},
		{"DAPR_ inside the name is fine", "MYAPP_", "DAPR_X", "allowed: the full name is not DAPR_*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := newStore(t, tt.prefix).GetSecret(context.Background(), tt.key, nil)
			want := map[string]string{tt.key: tt.want}
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("get = %v, %v; want %v", got, err, want)
			}
		})
	}
}

func TestBulkGetSecret(t *testing.T) {
	one := func(k, v string) map[string]string { return map[string]string{k: v} }
	tests := []struct {
		name, prefix string
		want         map[string]map[string]string
	}{
		{"no prefix: everything but reserved", "", map[string]map[string]string{
			"HOME": one("HOME", "/home/me"), "MYAPP_DB": one("MYAPP_DB", "postgres://x"), "MYAPP_TOKEN": one("MYAPP_TOKEN", "t=1"),
			"MYAPP_": one("MYAPP_", "bare prefix"), "MYAPP_DAPR_X": one("MYAPP_DAPR_X", "allowed: the full name is not DAPR_*"),
			"myapp_lowercase": one("myapp_lowercase", "prefix is case-sensitive here"),
		}},
		{"prefix stripped", "MYAPP_", map[string]map[string]string{
			"DB": one("DB", "postgres://x"), "TOKEN": one("TOKEN", "t=1"), "DAPR_X": one("DAPR_X", "allowed: the full name is not DAPR_*"),
		}},
		{"reserved prefix gives nothing", "DAPR_", map[string]map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := newStore(t, tt.prefix).BulkGetSecret(context.Background(), nil)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("bulk = %v, %v\nwant %v", got, err, tt.want)
			}
		})
	}
}

func TestProcessEnvironment(t *testing.T) {
	t.Setenv("OUTRIGGER_LOCALENV_TEST", "from-os")
	s := New()
	if err := s.Init(context.Background(), secretstores.Metadata{Properties: map[string]string{"prefix": "OUTRIGGER_LOCALENV_"}}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetSecret(context.Background(), "TEST", nil)
	bulk, _ := s.BulkGetSecret(context.Background(), nil)
	if got["TEST"] != "from-os" || bulk["TEST"]["TEST"] != "from-os" {
		t.Fatalf("get = %v, bulk = %v", got, bulk)
	}
	if len(s.Features()) != 0 {
		t.Fatalf("features = %v, want none", s.Features())
	}
}

func TestRegistered(t *testing.T) {
	s, err := secretstores.Registry.Create("secretstores.local.env", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*Store); !ok {
		t.Fatalf("registry built %T", s)
	}
}
