// Package localfile is the secretstores.local.file component: secrets read
// once, at Init, from a JSON file. Meant for development, like Dapr's.
package localfile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"strconv"

	"github.com/outrigger/outrigger/internal/secretstores"
)

func init() {
	secretstores.Registry.Register("secretstores.local.file", func() secretstores.Store { return New() })
}

// Store serves the secrets of one JSON file. It is read-only after Init.
type Store struct {
	multiValued bool
	// secrets maps a secret name to its key/value pairs. Without
	// multiValued every secret has exactly one key: its own name.
	secrets map[string]map[string]string
}

// New returns an uninitialised store.
func New() *Store { return &Store{} }

// config is the component metadata.
type config struct {
	file        string
	separator   string
	multiValued bool
}

func parseConfig(props map[string]string) (config, error) {
	cfg := config{separator: ":"}
	cfg.file, _ = secretstores.Prop(props, "secretsFile")
	if cfg.file == "" {
		return cfg, errors.New("metadata secretsFile is required (path of a JSON file, relative to the sidecar's working directory)")
	}
	if v, _ := secretstores.Prop(props, "nestedSeparator"); v != "" {
		cfg.separator = v
	}
	if v, _ := secretstores.Prop(props, "multiValued"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return cfg, fmt.Errorf("metadata multiValued: %q is not a boolean", v)
		}
		cfg.multiValued = b
	}
	return cfg, nil
}

// Init reads and flattens the secrets file. Later changes to the file are
// not seen (the component has no reload).
func (s *Store) Init(_ context.Context, md secretstores.Metadata) error {
	cfg, err := parseConfig(md.Properties)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(cfg.file)
	if err != nil {
		return fmt.Errorf("read secrets file: %w", err)
	}
	secrets, err := load(raw, cfg.separator, cfg.multiValued)
	if err != nil {
		return fmt.Errorf("secrets file %s: %w", cfg.file, err)
	}
	s.secrets, s.multiValued = secrets, cfg.multiValued
	return nil
}

// Features advertises multi-key secrets only in multiValued mode.
func (s *Store) Features() []secretstores.Feature {
	if s.multiValued {
		return []secretstores.Feature{secretstores.FeatureMultipleKeyValues}
	}
	return []secretstores.Feature{}
}

// GetSecret returns a copy of one secret's key/value pairs.
func (s *Store) GetSecret(_ context.Context, name string, _ map[string]string) (map[string]string, error) {
	data, ok := s.secrets[name]
	if !ok {
		return nil, fmt.Errorf("secret %q: %w", name, secretstores.ErrNotFound)
	}
	return maps.Clone(data), nil
}

// BulkGetSecret returns a copy of every secret.
func (s *Store) BulkGetSecret(_ context.Context, _ map[string]string) (map[string]map[string]string, error) {
	out := make(map[string]map[string]string, len(s.secrets))
	for name, data := range s.secrets {
		out[name] = maps.Clone(data)
	}
	return out, nil
}

// Close does nothing: the file is not kept open.
func (s *Store) Close() error { return nil }
