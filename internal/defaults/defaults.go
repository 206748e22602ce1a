// Package defaults holds the default resources `outrigger init` writes to the
// Outrigger home (~/.outrigger): a SQLite state store and a Configuration.
package defaults

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

//go:embed files
var files embed.FS

// Placeholders in the embedded files, replaced by absolute paths under the
// Outrigger home when the files are written.
const (
	dbPathPlaceholder       = "{{DB_PATH}}"
	pubsubDBPathPlaceholder = "{{PUBSUB_DB_PATH}}"
	lockDBPathPlaceholder   = "{{LOCK_DB_PATH}}"
)

// Home returns the Outrigger home: $OUTRIGGER_HOME when set, else
// ~/.outrigger. getenv is os.Getenv outside tests.
func Home(getenv func(string) string) (string, error) {
	if h := getenv("OUTRIGGER_HOME"); h != "" {
		return filepath.Abs(h)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find home directory (set OUTRIGGER_HOME): %w", err)
	}
	return filepath.Join(home, ".outrigger"), nil
}

// ComponentsDir is where the default components live under home.
func ComponentsDir(home string) string { return filepath.Join(home, "components") }

// ConfigFile is the default Configuration file under home.
func ConfigFile(home string) string { return filepath.Join(home, "config.yaml") }

// Ensure writes the default files under home, creating directories as
// needed (including home/data for the database). Existing files are kept
// unless force is set. It returns the paths it wrote.
func Ensure(home string, force bool) (written []string, err error) {
	home, err = filepath.Abs(home)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", home, err)
	}
	if err := os.MkdirAll(filepath.Join(home, "data"), 0o755); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	err = fs.WalkDir(files, "files", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		dst := filepath.Join(home, filepath.FromSlash(strings.TrimPrefix(name, "files/")))
		ok, err := writeFile(name, dst, home, force)
		if ok {
			written = append(written, dst)
		}
		return err
	})
	return written, err
}

// writeFile writes one embedded file to dst unless it exists and force is
// off; it reports whether it wrote.
func writeFile(name, dst, home string, force bool) (bool, error) {
	if _, err := os.Stat(dst); err == nil && !force {
		return false, nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("check %s: %w", dst, err)
	}
	data, err := files.ReadFile(name)
	if err != nil {
		return false, fmt.Errorf("read embedded %s: %w", name, err)
	}
	data = []byte(strings.NewReplacer(
		dbPathPlaceholder, quoteYAML(filepath.Join(home, "data", "state.db")),
		pubsubDBPathPlaceholder, quoteYAML(filepath.Join(home, "data", "pubsub.db")),
		lockDBPathPlaceholder, quoteYAML(filepath.Join(home, "data", "lock.db")),
	).Replace(string(data)))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return false, fmt.Errorf("create directory for %s: %w", dst, err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		return false, fmt.Errorf("write %s: %w", dst, err)
	}
	return true, nil
}

// quoteYAML quotes s as a YAML double-quoted scalar; JSON string syntax is a
// subset of it, so paths with backslashes or colons stay intact.
func quoteYAML(s string) string {
	b, _ := json.Marshal(s) // marshalling a string cannot fail
	return string(b)
}
