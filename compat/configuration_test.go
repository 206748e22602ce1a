package compat

import (
	"testing"

	"github.com/outrigger/outrigger/compat/harness"
)

// configStoreName is the configuration.redis component of the
// configuration scenarios.
const configStoreName = "configstore"

// configFixture is a sidecar with configuration.redis and the unique key
// prefix of the test's items.
type configFixture struct {
	sc     *harness.Sidecar
	prefix string
}

// startConfig needs Redis with keyspace notifications (turned on for the
// test and restored afterwards), seeds two items and starts a sidecar.
// Every key of the test starts with the returned prefix and is deleted
// after the sidecar stops.
func startConfig(t *testing.T, appID string) *configFixture {
	t.Helper()
	harness.RequireService(t, "Redis", redisAddr)
	harness.RedisKeyspaceNotifications(t, redisAddr)
	f := &configFixture{prefix: "compat-" + uniq(t) + "-cfg-"}
	harness.RedisDeleteOnCleanup(t, redisAddr, f.prefix+"*")
	// Values are "<value>" or "<value>||<version>" (components.md).
	harness.MustRedis(t, redisAddr, "SET", f.prefix+"a", "value-a||1")
	harness.MustRedis(t, redisAddr, "SET", f.prefix+"b", "value b ✓")
	f.sc = harness.Start(t, harness.Options{
		AppID: appID,
		Components: []string{harness.Component(configStoreName, "configuration.redis", "v1", map[string]string{
			"redisHost": redisAddr,
		})},
	})
	return f
}
