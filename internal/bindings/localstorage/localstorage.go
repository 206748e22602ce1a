// Package localstorage is the bindings.localstorage output binding: files
// under a root directory (create, get, list, delete). Every file name is
// confined to the root: names that are absolute, climb out with "..", or
// reach outside through a symbolic link are refused.
package localstorage

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"

	"github.com/outrigger/outrigger/internal/bindings"
)

func init() {
	bindings.Outputs.Register("bindings.localstorage", func() bindings.Output { return New() })
}

// fileNameKey is the request metadata naming the file.
const fileNameKey = "fileName"

// disallowedRoots are system locations a root may not be in (kernel
// interfaces, boot files, mounted service-account secrets).
var disallowedRoots = []string{"/proc", "/sys", "/boot", "/var/run/secrets"}

// Binding is the local storage binding.
type Binding struct {
	rootPath string // absolute, symlinks resolved
	root     *os.Root
}

// New returns an uninitialised binding.
func New() *Binding { return &Binding{} }

// Init validates rootPath, creates it when missing and opens it.
func (b *Binding) Init(_ context.Context, md bindings.Metadata) error {
	p, _ := bindings.Prop(md.Properties, "rootPath")
	rootPath, err := resolveRoot(p)
	if err != nil {
		return fmt.Errorf("localstorage: %w", err)
	}
	if err := os.MkdirAll(rootPath, 0o777); err != nil {
		return fmt.Errorf("localstorage: creating rootPath %s: %w", rootPath, err)
	}
	root, err := os.OpenRoot(rootPath)
	if err != nil {
		return fmt.Errorf("localstorage: opening rootPath %s: %w", rootPath, err)
	}
	b.rootPath, b.root = rootPath, root
	return nil
}

// resolveRoot makes rootPath absolute, resolves symbolic links in the part
// that exists, and refuses system locations.
func resolveRoot(rootPath string) (string, error) {
	if rootPath == "" {
		return "", errors.New("metadata rootPath is required")
	}
	abs, err := filepath.Abs(rootPath)
	if err != nil {
		return "", fmt.Errorf("resolving rootPath: %w", err)
	}
	// Find the longest existing prefix; the rest is created later.
	existing := abs
	for {
		fi, err := os.Stat(existing)
		if err == nil {
			if !fi.IsDir() {
				return "", fmt.Errorf("rootPath %s is not a directory", existing)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("checking rootPath: %w", err)
		}
		existing = filepath.Dir(existing)
	}
	resolved, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return "", fmt.Errorf("resolving symbolic links in rootPath: %w", err)
	}
	full := filepath.Join(resolved, strings.TrimPrefix(abs, existing))
	// Check the path as written and as resolved: /var/run is often a link.
	if disallowed(abs) || disallowed(full) {
		return "", fmt.Errorf("rootPath %s is in a disallowed location", abs)
	}
	return full, nil
}

func disallowed(p string) bool {
	for _, d := range disallowedRoots {
		if p == d || strings.HasPrefix(p, d+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// Operations lists the supported operations.
func (b *Binding) Operations() []string {
	return []string{bindings.OpCreate, bindings.OpGet, bindings.OpList, bindings.OpDelete}
}

// Invoke runs one operation on the file named by the fileName metadata.
func (b *Binding) Invoke(_ context.Context, req *bindings.InvokeRequest) (*bindings.InvokeResponse, error) {
	if b.root == nil {
		return nil, errors.New("localstorage: binding is not initialised")
	}
	name := req.Metadata[fileNameKey]
	switch req.Operation {
	case bindings.OpCreate:
		if name == "" {
			name = uuid.NewString()
		}
		return b.create(name, req.Data)
	case bindings.OpGet:
		return b.get(name)
	case bindings.OpDelete:
		return b.delete(name)
	case bindings.OpList:
		return b.list(name)
	}
	return nil, fmt.Errorf("localstorage: unsupported operation %s", req.Operation)
}

// localName checks that name stays inside the root and returns it cleaned
// ("" means the root itself when allowRoot). Symbolic links are checked
// by os.Root when the file is opened.
func localName(name string, allowRoot bool) (string, error) {
	if name == "" {
		if allowRoot {
			return ".", nil
		}
		return "", fmt.Errorf("metadata %s is required", fileNameKey)
	}
	if !filepath.IsLocal(name) {
		return "", fmt.Errorf("file name %q is outside the root path", name)
	}
	return filepath.Clean(name), nil
}

func (b *Binding) abs(name string) string { return filepath.Join(b.rootPath, name) }

func (b *Binding) create(name string, data []byte) (*bindings.InvokeResponse, error) {
	name, err := localName(name, false)
	if err != nil {
		return nil, fmt.Errorf("localstorage: %w", err)
	}
	if dir := filepath.Dir(name); dir != "." {
		if err := b.root.MkdirAll(dir, 0o777); err != nil {
			return nil, fmt.Errorf("localstorage: creating directory %s: %w", b.abs(dir), err)
		}
	}
	if err := b.root.WriteFile(name, decodeData(data), 0o666); err != nil {
		return nil, fmt.Errorf("localstorage: writing file %s: %w", b.abs(name), err)
	}
	out, err := json.Marshal(struct {
		FileName string `json:"fileName"`
	}{name})
	if err != nil {
		return nil, fmt.Errorf("localstorage: encoding the response: %w", err)
	}
	return &bindings.InvokeResponse{Data: out}, nil
}

// decodeData undoes the HTTP API's JSON encoding of a string, then
// base64-decodes the result when it is valid base64, as Dapr does (so
// binary content can be sent as base64).
func decodeData(data []byte) []byte {
	var s string
	if len(data) > 0 && data[0] == '"' && json.Unmarshal(data, &s) == nil {
		data = []byte(s)
	}
	if dec, err := base64.StdEncoding.DecodeString(string(data)); err == nil {
		return dec
	}
	return data
}

func (b *Binding) get(name string) (*bindings.InvokeResponse, error) {
	name, err := localName(name, false)
	if err != nil {
		return nil, fmt.Errorf("localstorage: %w", err)
	}
	data, err := b.root.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("localstorage: file not found: %s", b.abs(name))
	}
	if err != nil {
		return nil, fmt.Errorf("localstorage: reading file %s: %w", b.abs(name), err)
	}
	return &bindings.InvokeResponse{Data: data}, nil
}

func (b *Binding) delete(name string) (*bindings.InvokeResponse, error) {
	name, err := localName(name, false)
	if err != nil {
		return nil, fmt.Errorf("localstorage: %w", err)
	}
	if err := b.root.Remove(name); err != nil {
		return nil, fmt.Errorf("localstorage: deleting file %s: %w", b.abs(name), err)
	}
	return nil, nil
}

// list returns the absolute paths of the files under a directory (the
// root when no fileName is given), as a JSON array.
func (b *Binding) list(name string) (*bindings.InvokeResponse, error) {
	name, err := localName(name, true)
	if err != nil {
		return nil, fmt.Errorf("localstorage: %w", err)
	}
	fi, err := b.root.Stat(name)
	if err != nil {
		return nil, fmt.Errorf("localstorage: listing %s: %w", b.abs(name), err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("localstorage: cannot list %s: not a directory", b.abs(name))
	}
	var files []string
	err = fs.WalkDir(b.root.FS(), filepath.ToSlash(name), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, b.abs(filepath.FromSlash(p)))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("localstorage: listing %s: %w", b.abs(name), err)
	}
	out, err := json.Marshal(files)
	if err != nil {
		return nil, fmt.Errorf("localstorage: encoding the response: %w", err)
	}
	return &bindings.InvokeResponse{Data: out}, nil
}

// Close releases the root directory.
func (b *Binding) Close() error {
	if b.root == nil {
		return nil
	}
	return b.root.Close()
}
