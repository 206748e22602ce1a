// Package localstorage is the crypto.dapr.localstorage provider: keys are
// files in a local folder (metadata `path`), one key per file, named by
// the file name. A file holds a JWK (.json), a PEM block (.pem: PKCS#8,
// PKCS#1, SEC 1, PKIX or a certificate), or, guessed from its content for
// other names, any of those or a raw or base64 symmetric key.
package localstorage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/outrigger/outrigger/internal/crypto"
)

func init() {
	crypto.Registry.Register("crypto.dapr.localstorage", func() crypto.Provider { return New() })
}

// Provider reads keys from files on every use, so rotated files take
// effect without a restart.
type Provider struct {
	crypto.LocalKeys
	root *os.Root
}

// New returns an uninitialised provider.
func New() *Provider {
	p := &Provider{}
	p.Lookup = p.lookup
	return p
}

// Init opens the key folder.
func (p *Provider) Init(_ context.Context, md crypto.Metadata) error {
	dir, _ := crypto.Prop(md.Properties, "path")
	if dir == "" {
		return errors.New("metadata property 'path' is required")
	}
	dir = filepath.Clean(dir)
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("could not stat path '%s': %w", dir, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("path '%s' is not a directory", dir)
	}
	// os.Root keeps key names from escaping the folder (.., symlinks out).
	p.root, err = os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("open key folder: %w", err)
	}
	return nil
}

// Close releases the key folder.
func (p *Provider) Close() error {
	if p.root == nil {
		return nil
	}
	return p.root.Close()
}

func (p *Provider) lookup(_ context.Context, name string) (*crypto.Key, error) {
	if p.root == nil {
		return nil, errors.New("provider is not initialised")
	}
	if name == "" || strings.Contains(name, "..") {
		return nil, errors.New("invalid key path: cannot contain '..'")
	}
	data, err := p.root.ReadFile(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("failed to load key '%s': %w", name, crypto.ErrKeyNotFound)
		}
		return nil, fmt.Errorf("failed to load key '%s': %w", name, err)
	}
	format := ""
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		format = "json"
	case ".pem":
		format = "pem"
	}
	key, err := crypto.ParseKey(data, format)
	if err != nil {
		return nil, fmt.Errorf("failed to parse key '%s': %w", name, err)
	}
	return key, nil
}
