package resources

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeDir writes files (name → content) into a new temp dir.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func load(t *testing.T, opts LoadOptions) (*Set, error) {
	t.Helper()
	opts.Logger = quietLogger()
	return Load(context.Background(), opts)
}

func mustLoad(t *testing.T, opts LoadOptions) *Set {
	t.Helper()
	set, err := load(t, opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return set
}

// errorLines splits a joined error into its messages.
func errorLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// requireErrors checks that err holds exactly the wanted messages, each
// given as a prefix ("file: document N: field: ") plus a fragment.
func requireErrors(t *testing.T, err error, want ...string) {
	t.Helper()
	got := errorLines(err)
	if len(got) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("error %d:\n got: %s\nwant: …%s…", i, got[i], w)
		}
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("error is not a *resources.Error: %T", err)
	}
}

const redisComponent = `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.redis
  version: v1
  metadata:
  - name: redisHost
    value: localhost:6379
`
