package localfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/secretstores"
)

type secrets = map[string]map[string]string

// initStore writes content to a temp file and initialises a store over it
// with the extra metadata.
func initStore(t *testing.T, content string, props map[string]string) (*Store, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secrets.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	md := map[string]string{"secretsFile": path}
	for k, v := range props {
		md[k] = v
	}
	s := New()
	return s, s.Init(context.Background(), secretstores.Metadata{Name: "files", Properties: md})
}

const nested = `{
  "plain": "p",
  "db": {"user": "admin", "password": "pw", "tls": {"ca": "CA"}},
  "list": ["a", {"b": 2}],
  "num": 12345678901234567890,
  "float": 1.5,
  "flag": true,
  "nothing": null
}`

func TestBulk(t *testing.T) {
	tests := []struct {
		name  string
		props map[string]string
		want  secrets
	}{
		{"flattened with default separator", nil, secrets{
			"plain": {"plain": "p"}, "db:user": {"db:user": "admin"}, "db:password": {"db:password": "pw"},
			"db:tls:ca": {"db:tls:ca": "CA"}, "list:0": {"list:0": "a"}, "list:1:b": {"list:1:b": "2"},
			"num": {"num": "12345678901234567890"}, "float": {"float": "1.5"}, "flag": {"flag": "true"}, "nothing": {"nothing": ""},
		}},
		{"custom separator", map[string]string{"nestedSeparator": "."}, secrets{
			"plain": {"plain": "p"}, "db.user": {"db.user": "admin"}, "db.password": {"db.password": "pw"},
			"db.tls.ca": {"db.tls.ca": "CA"}, "list.0": {"list.0": "a"}, "list.1.b": {"list.1.b": "2"},
			"num": {"num": "12345678901234567890"}, "float": {"float": "1.5"}, "flag": {"flag": "true"}, "nothing": {"nothing": ""},
		}},
		{"multi-valued", map[string]string{"multiValued": "true"}, secrets{
			"plain": {"plain": "p"}, "db": {"user": "admin", "password": "pw", "tls:ca": "CA"},
			"list": {"0": "a", "1:b": "2"}, "num": {"num": "12345678901234567890"}, "float": {"float": "1.5"},
			"flag": {"flag": "true"}, "nothing": {"nothing": ""},
		}},
		{"multi-valued, separator, case-insensitive keys", map[string]string{"MULTIVALUED": "1", "NestedSeparator": "__"}, secrets{
			"plain": {"plain": "p"}, "db": {"user": "admin", "password": "pw", "tls__ca": "CA"},
			"list": {"0": "a", "1__b": "2"}, "num": {"num": "12345678901234567890"}, "float": {"float": "1.5"},
			"flag": {"flag": "true"}, "nothing": {"nothing": ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := initStore(t, nested, tt.props)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.BulkGetSecret(context.Background(), nil)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("bulk = %v, %v\nwant %v", got, err, tt.want)
			}
		})
	}
}

func TestGetSecret(t *testing.T) {
	tests := []struct {
		name, key string
		multi     bool
		want      map[string]string
		notFound  bool
	}{
		{"top-level string", "plain", false, map[string]string{"plain": "p"}, false},
		{"nested leaf", "db:password", false, map[string]string{"db:password": "pw"}, false},
		{"object is not a secret when flattened", "db", false, nil, true},
		{"missing", "nope", false, nil, true},
		{"multi-valued object", "db", true, map[string]string{"user": "admin", "password": "pw", "tls:ca": "CA"}, false},
		{"multi-valued scalar", "flag", true, map[string]string{"flag": "true"}, false},
		{"multi-valued has no flattened names", "db:user", true, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			props := map[string]string{}
			if tt.multi {
				props["multiValued"] = "true"
			}
			s, err := initStore(t, nested, props)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.GetSecret(context.Background(), tt.key, nil)
			if tt.notFound {
				if !errors.Is(err, secretstores.ErrNotFound) || !strings.Contains(err.Error(), tt.key) {
					t.Fatalf("err = %v, want ErrNotFound naming %q", err, tt.key)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("get = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestReturnedMapsAreCopies(t *testing.T) {
	s, err := initStore(t, `{"a": "1"}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetSecret(context.Background(), "a", nil)
	got["a"] = "changed"
	bulk, _ := s.BulkGetSecret(context.Background(), nil)
	bulk["a"]["a"] = "changed"
	again, _ := s.GetSecret(context.Background(), "a", nil)
	if again["a"] != "1" {
		t.Fatalf("store changed through a returned map: %v", again)
	}
}

func TestFeatures(t *testing.T) {
	for _, multi := range []string{"false", "true"} {
		s, err := initStore(t, `{}`, map[string]string{"multiValued": multi})
		if err != nil {
			t.Fatal(err)
		}
		got := s.Features()
		want := []secretstores.Feature{}
		if multi == "true" {
			want = []secretstores.Feature{secretstores.FeatureMultipleKeyValues}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("multiValued=%s: features = %v, want %v", multi, got, want)
		}
	}
}

func TestInitErrors(t *testing.T) {
	tests := []struct {
		name, content string
		props         map[string]string
		wantErr       string
	}{
		{"bad multiValued", `{}`, map[string]string{"multiValued": "maybe"}, `multiValued: "maybe" is not a boolean`},
		{"invalid JSON", `{"a":`, nil, "not a JSON object"},
		{"array at top level", `["a"]`, nil, "not a JSON object"},
		{"null", `null`, nil, "not a JSON object: null"},
		{"trailing data", `{"a":"b"} {"c":"d"}`, nil, "unexpected data after the JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := initStore(t, tt.content, tt.props)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
	t.Run("missing secretsFile", func(t *testing.T) {
		err := New().Init(context.Background(), secretstores.Metadata{Properties: map[string]string{}})
		if err == nil || !strings.Contains(err.Error(), "secretsFile is required") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("file does not exist", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "none.json")
		err := New().Init(context.Background(), secretstores.Metadata{Properties: map[string]string{"secretsFile": missing}})
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("err = %v, want not-exist", err)
		}
	})
}

// A relative secretsFile is relative to the sidecar's working directory,
// and the file is read once: later edits are not seen.
func TestRelativePathReadOnce(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile("my.json", []byte(`{"k": "v1"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := New()
	if err := s.Init(context.Background(), secretstores.Metadata{Properties: map[string]string{"secretsFile": "my.json"}}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("my.json", []byte(`{"k": "v2"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetSecret(context.Background(), "k", nil)
	if err != nil || got["k"] != "v1" {
		t.Fatalf("get = %v, %v; want v1", got, err)
	}
}

func TestRegistered(t *testing.T) {
	s, err := secretstores.Registry.Create("secretstores.local.file", "v1")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*Store); !ok {
		t.Fatalf("registry built %T", s)
	}
}
