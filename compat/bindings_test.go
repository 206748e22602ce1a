package compat

import (
	"path/filepath"
	"testing"

	"github.com/outrigger/outrigger/compat/harness"
)

const (
	// filesBinding is the bindings.localstorage output binding.
	filesBinding = "files"
	// cronBinding fires every second and is delivered on its default
	// route, its name; cronRoutedBinding on cronRoute.
	cronBinding       = "cron"
	cronRoutedBinding = "cron-routed"
	cronRoute         = "/cron-custom"
	// cronIgnoredBinding fires every second too, but the apps do not
	// handle it: the sidecar must not deliver it.
	cronIgnoredBinding = "cron-ignored"
)

// filesComponent renders bindings.localstorage rooted at a new temporary
// directory and returns that directory with symbolic links resolved (the
// binding reports absolute paths under the resolved root).
func filesComponent(t *testing.T) (yaml, root string) {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatalf("resolve temp dir: %v", err)
	}
	return harness.Component(filesBinding, "bindings.localstorage", "v1", map[string]string{"rootPath": dir}), dir
}

// cronComponents are the cron input bindings.
func cronComponents() []string {
	return []string{
		harness.Component(cronBinding, "bindings.cron", "v1", map[string]string{"schedule": "@every 1s"}),
		harness.Component(cronRoutedBinding, "bindings.cron", "v1", map[string]string{
			"schedule": "@every 1s", "route": cronRoute,
		}),
		harness.Component(cronIgnoredBinding, "bindings.cron", "v1", map[string]string{"schedule": "@every 1s"}),
	}
}
