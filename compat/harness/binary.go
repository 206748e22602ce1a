// Package harness starts the outrigger binary as a Dapr sidecar for the
// compatibility tests. It talks to the binary only through its command line,
// its ports and its exit code, never through the main module's packages.
package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// built caches the binary built for this test process, so a package builds
// it once however many sidecars it starts.
var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// Main wraps testing.M.Run so that a binary built by Binary is removed when
// the package's tests end. Use it from TestMain: os.Exit(harness.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	return code
}

// Binary returns the path of the outrigger binary under test: $OUTRIGGER_BIN
// when set (what `make compat` does), else a fresh build of ./cmd/outrigger
// from the main module next to this one.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("OUTRIGGER_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("OUTRIGGER_BIN: %v", err)
		}
		return p
	}
	built.once.Do(build)
	if built.err != nil {
		t.Fatalf("building outrigger: %v", built.err)
	}
	return built.path
}

func build() {
	root, err := mainModuleDir()
	if err != nil {
		built.err = err
		return
	}
	dir, err := os.MkdirTemp("", "outrigger-compat-")
	if err != nil {
		built.err = fmt.Errorf("temp dir: %w", err)
		return
	}
	built.dir = dir
	built.path = filepath.Join(dir, "outrigger")
	cmd := exec.Command("go", "build", "-o", built.path, "./cmd/outrigger")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		built.err = fmt.Errorf("go build ./cmd/outrigger in %s: %w\n%s", root, err, out)
	}
}

// mainModuleDir is the parent of the compat module: this file lives in
// compat/harness, so the main module is two directories up.
func mainModuleDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("cannot locate harness source file")
	}
	root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	if _, err := os.Stat(filepath.Join(root, "cmd", "outrigger")); err != nil {
		return "", fmt.Errorf("main module not found next to compat: %w", err)
	}
	return root, nil
}
