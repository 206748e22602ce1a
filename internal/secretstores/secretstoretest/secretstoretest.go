// Package secretstoretest is the conformance suite every secret store runs:
// reads of existing and missing secrets, bulk reads, multi-key secrets,
// request metadata and concurrent readers, checked against what the core
// (internal/api) relies on.
//
// A store's test calls Run with a Backend whose factory builds a store
// holding the secrets the suite asks for.
package secretstoretest

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/secretstores"
)

// Secrets maps a secret name to its key/value pairs.
type Secrets = map[string]map[string]string

// Backend is one secret store under test.
type Backend struct {
	// New returns an initialised store holding exactly secrets. It closes
	// the store when the test ends (t.Cleanup).
	New func(t *testing.T, secrets Secrets) secretstores.Store
	// MultiValued means a secret may hold several keys of any name.
	// Otherwise every secret holds one key named after the secret, and the
	// suite only asks for such secrets.
	MultiValued bool
	// MissingIsEmpty means reading a secret that does not exist returns
	// {name: ""} (secretstores.local.env, as in Dapr) rather than an error
	// wrapping secretstores.ErrNotFound.
	MissingIsEmpty bool
	// Scoped, when set, returns an initialised store in which secrets are
	// visible only to requests carrying the returned request metadata
	// (Kubernetes: another namespace); requests without it see none of
	// them. It closes the store when the test ends.
	Scoped func(t *testing.T, secrets Secrets) (secretstores.Store, map[string]string)
}

// Run runs the suite.
func Run(t *testing.T, b Backend) {
	if b.New == nil {
		t.Fatal("secretstoretest: Backend.New is required")
	}
	t.Run("GetExisting", b.testGetExisting)
	t.Run("GetMissing", b.testGetMissing)
	t.Run("BulkGet", b.testBulkGet)
	t.Run("KeysPerSecret", b.testKeysPerSecret)
	t.Run("ResultsAreCopies", b.testResultsAreCopies)
	t.Run("RequestMetadata", b.testRequestMetadata)
	t.Run("ConcurrentReads", b.testConcurrentReads)
}

// fixture is the suite's data set: names and values chosen to trip up
// escaping and parsing (dots, '=', newlines, non-ASCII, empty values) while
// staying valid in every store (Kubernetes object names are lowercase DNS
// subdomains). With multi it adds secrets holding several keys.
func fixture(multi bool) Secrets {
	s := Secrets{
		"db-password": {"db-password": "s3cr3t"},
		"api.token":   {"api.token": "k=v; a=b==  with spaces, ünïcödé ✓"},
		"multi-line":  {"multi-line": "-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n"},
		"empty-value": {"empty-value": ""},
	}
	if multi {
		s["db-conn"] = map[string]string{"host": "db.internal", "port": "5432", "user": "app", "password": "p@ss:word"}
		s["one-other-key"] = map[string]string{"username": "admin"}
	}
	return s
}

// newStore builds a store over a copy of secrets, so a store that hands
// out its own maps cannot change the suite's expectations with them.
func (b Backend) newStore(t *testing.T, secrets Secrets) secretstores.Store {
	return b.New(t, clone(secrets))
}

func clone(s Secrets) Secrets {
	out := make(Secrets, len(s))
	for name, data := range s {
		out[name] = maps.Clone(data)
	}
	return out
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
