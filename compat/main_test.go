// Package compat drives the official Dapr SDKs against the outrigger binary.
package compat

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/outrigger/outrigger/compat/harness"
)

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m))
}

// storeName is the component name every scenario addresses.
const storeName = "statestore"

// stateStore is one state store the scenarios run against.
type stateStore struct {
	name string // subtest name
	typ  string // spec.type
	// yaml renders the component; dir is a per-test temporary directory
	// for stores that keep files.
	yaml func(dir string) string
	// capabilities the metadata API must list for the component.
	capabilities []string
}

// stateStores are the stores that need no outside service. Both advertise
// QUERY_API in outrigger (an in-process query engine), which daprd's
// versions of them do not.
var stateStores = []stateStore{
	{
		name: "in-memory",
		typ:  "state.in-memory",
		yaml: func(string) string {
			return harness.Component(storeName, "state.in-memory", "v1", nil)
		},
		capabilities: []string{"ETAG", "TRANSACTIONAL", "TTL", "ACTOR", "QUERY_API"},
	},
	{
		name: "sqlite",
		typ:  "state.sqlite",
		yaml: func(dir string) string {
			return harness.Component(storeName, "state.sqlite", "v1", map[string]string{
				"connectionString": filepath.Join(dir, "state.db"),
			})
		},
		capabilities: []string{"ETAG", "TRANSACTIONAL", "TTL", "ACTOR", "QUERY_API"},
	},
}

// startStore starts a sidecar with st as its only component.
func startStore(t *testing.T, appID string, st stateStore) *harness.Sidecar {
	t.Helper()
	return harness.Start(t, harness.Options{
		AppID:      appID,
		Components: []string{st.yaml(t.TempDir())},
	})
}

// uniq returns a short random string so keys and ids never collide
// between runs or parallel tests.
func uniq(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random: %v", err)
	}
	return hex.EncodeToString(b)
}
