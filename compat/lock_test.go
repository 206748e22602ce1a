package compat

import (
	"path/filepath"
	"testing"

	"github.com/outrigger/outrigger/compat/harness"
)

// lockStoreName is the lock component of the lock scenarios.
const lockStoreName = "lockstore"

// lockStore is one lock store the scenarios run against. Sidecars of one
// scenario share its backend: the same SQLite file or the same Redis.
type lockStore struct {
	name string
	// setup prepares the shared backend for a test whose app ids all
	// start with idPrefix and returns the component YAML.
	setup func(t *testing.T, idPrefix string) string
}

var lockStores = []lockStore{
	{
		name: "sqlite",
		setup: func(t *testing.T, _ string) string {
			return harness.Component(lockStoreName, "lock.sqlite", "v1", map[string]string{
				"connectionString": filepath.Join(t.TempDir(), "locks.db"),
			})
		},
	},
	{
		name: "redis",
		setup: func(t *testing.T, idPrefix string) string {
			harness.RequireService(t, "Redis", redisAddr)
			// Keys are lock||<appId>||<resource> (keyPrefix appid).
			harness.RedisDeleteOnCleanup(t, redisAddr, "lock||"+idPrefix+"*")
			return harness.Component(lockStoreName, "lock.redis", "v1", map[string]string{
				"redisHost": redisAddr,
			})
		},
	},
}
