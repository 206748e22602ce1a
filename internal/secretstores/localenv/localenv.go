// Package localenv is the secretstores.local.env component: secrets are the
// sidecar's environment variables, optionally limited to a name prefix.
package localenv

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"strings"

	"github.com/outrigger/outrigger/internal/secretstores"
)

func init() {
	secretstores.Registry.Register("secretstores.local.env", func() secretstores.Store { return New() })
}

// Env is the environment the store reads.
type Env struct {
	Lookup  func(name string) (string, bool)
	Environ func() []string // "NAME=value" entries
}

// Store reads secrets from the environment.
type Store struct {
	env    Env
	prefix string
	log    *slog.Logger
}

// New returns a store over the process environment.
func New() *Store {
	return NewWithEnv(Env{Lookup: os.LookupEnv, Environ: os.Environ})
}

// NewWithEnv returns a store over env (tests use a fake one).
func NewWithEnv(env Env) *Store {
	return &Store{env: env, log: slog.Default()}
}

// Init reads the optional prefix.
func (s *Store) Init(_ context.Context, md secretstores.Metadata) error {
	s.prefix, _ = secretstores.Prop(md.Properties, "prefix")
	s.log = slog.Default().With("component", md.Name)
	return nil
}

// Features: none; every secret has one key.
func (s *Store) Features() []secretstores.Feature { return []secretstores.Feature{} }

// GetSecret returns {name: value of <prefix><name>}. As in Dapr, an unset
// or forbidden variable yields an empty value rather than an error.
func (s *Store) GetSecret(_ context.Context, name string, _ map[string]string) (map[string]string, error) {
	full := s.prefix + name
	if forbidden(full) {
		s.log.Warn("secret store refused a reserved environment variable", "name", full)
		return map[string]string{name: ""}, nil
	}
	v, _ := s.env.Lookup(full)
	return map[string]string{name: v}, nil
}

// BulkGetSecret returns every allowed variable whose name starts with the
// prefix, keyed by the name without it.
func (s *Store) BulkGetSecret(_ context.Context, _ map[string]string) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	for _, kv := range s.env.Environ() {
		full, v, ok := strings.Cut(kv, "=")
		// Windows lists per-drive variables as "=C:=C:\..."; skip them.
		if !ok || full == "" || forbidden(full) {
			continue
		}
		name, ok := s.strip(full)
		if !ok || name == "" {
			continue
		}
		out[name] = map[string]string{name: v}
	}
	return out, nil
}

// strip removes the prefix, reporting whether full has it. Environment
// names are case-insensitive on Windows, so the match is too.
func (s *Store) strip(full string) (string, bool) {
	if len(full) < len(s.prefix) {
		return "", false
	}
	head := full[:len(s.prefix)]
	if head == s.prefix || (runtime.GOOS == "windows" && strings.EqualFold(head, s.prefix)) {
		return full[len(s.prefix):], true
	}
	return "", false
}

// forbidden reports variables that would leak the sidecar's own secrets:
// the app API token and anything DAPR_*.
func forbidden(name string) bool {
	upper := strings.ToUpper(name)
	return upper == "APP_API_TOKEN" || strings.HasPrefix(upper, "DAPR_")
}

// Close does nothing.
func (s *Store) Close() error { return nil }
