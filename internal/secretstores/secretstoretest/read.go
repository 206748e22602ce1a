package secretstoretest

import (
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/outrigger/outrigger/internal/secretstores"
)

const missingName = "no-such-secret"

func (b Backend) testGetExisting(t *testing.T) {
	want := fixture(b.MultiValued)
	s := b.newStore(t, want)
	for name, data := range want {
		got, err := s.GetSecret(ctxFor(t), name, nil)
		if err != nil {
			t.Errorf("GetSecret(%q): %v", name, err)
			continue
		}
		if !maps.Equal(got, data) {
			t.Errorf("GetSecret(%q) = %q, want %q", name, got, data)
		}
	}
}

func (b Backend) testGetMissing(t *testing.T) {
	s := b.newStore(t, fixture(b.MultiValued))
	assertMissing(t, b, s, missingName, nil)
}

// assertMissing checks how the store reports a secret it does not hold.
// The core answers ERR_SECRET_GET either way; wrapping ErrNotFound lets
// the sidecar's own lookups (secretKeyRef) tell a missing secret from an
// unreachable store.
func assertMissing(t *testing.T, b Backend, s secretstores.Store, name string, md map[string]string) {
	t.Helper()
	got, err := s.GetSecret(ctxFor(t), name, md)
	if b.MissingIsEmpty {
		if want := map[string]string{name: ""}; err != nil || !maps.Equal(got, want) {
			t.Errorf("GetSecret(%q) of a missing secret = %q, %v; want %q, nil", name, got, err, want)
		}
		return
	}
	if !errors.Is(err, secretstores.ErrNotFound) {
		t.Errorf("GetSecret(%q) of a missing secret = %q, %v; want an error wrapping ErrNotFound", name, got, err)
	}
	if err != nil && err.Error() == "" {
		t.Errorf("GetSecret(%q): error has an empty message; the app sees it", name)
	}
}

func (b Backend) testBulkGet(t *testing.T) {
	want := fixture(b.MultiValued)
	s := b.newStore(t, want)
	got, err := s.BulkGetSecret(ctxFor(t), nil)
	if err != nil {
		t.Fatalf("BulkGetSecret: %v", err)
	}
	assertSecrets(t, "BulkGetSecret", got, want)

	t.Run("Empty", func(t *testing.T) {
		got, err := b.newStore(t, Secrets{}).BulkGetSecret(ctxFor(t), nil)
		if err != nil || len(got) != 0 {
			t.Errorf("BulkGetSecret of an empty store = %q, %v; want no secrets, nil", got, err)
		}
	})
}

// testKeysPerSecret: multi-valued stores return every key of a secret,
// whatever the keys are called; single-valued stores return exactly the
// key named after the secret and must not advertise multiple keys.
func (b Backend) testKeysPerSecret(t *testing.T) {
	data := fixture(b.MultiValued)
	s := b.newStore(t, data)
	advertised := slices.Contains(s.Features(), secretstores.FeatureMultipleKeyValues)
	if advertised && !b.MultiValued {
		t.Errorf("store advertises %s but the backend says it is single-valued", secretstores.FeatureMultipleKeyValues)
	}
	for name, want := range data {
		got, err := s.GetSecret(ctxFor(t), name, nil)
		if err != nil {
			t.Errorf("GetSecret(%q): %v", name, err)
			continue
		}
		if !b.MultiValued {
			if _, ok := got[name]; len(got) != 1 || !ok {
				t.Errorf("GetSecret(%q) keys = %v, want exactly [%q]", name, slices.Sorted(maps.Keys(got)), name)
			}
			continue
		}
		if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want))) {
			t.Errorf("GetSecret(%q) keys = %v, want %v", name, slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
		}
	}
}

// testResultsAreCopies: the core hands results to the app encoders and may
// filter them; changing a result must not change what the store serves.
func (b Backend) testResultsAreCopies(t *testing.T) {
	want := fixture(b.MultiValued)
	s := b.newStore(t, want)
	one, err := s.GetSecret(ctxFor(t), "db-password", nil)
	if err != nil {
		t.Fatalf("GetSecret: %v", err)
	}
	one["db-password"] = "changed"
	one["added"] = "x"
	all, err := s.BulkGetSecret(ctxFor(t), nil)
	if err != nil {
		t.Fatalf("BulkGetSecret: %v", err)
	}
	for name := range all {
		all[name]["added"] = "x"
	}
	delete(all, "api.token")

	again, err := s.GetSecret(ctxFor(t), "db-password", nil)
	if err != nil || !maps.Equal(again, want["db-password"]) {
		t.Errorf("GetSecret after changing earlier results = %q, %v; want %q", again, err, want["db-password"])
	}
	allAgain, err := s.BulkGetSecret(ctxFor(t), nil)
	if err != nil {
		t.Fatalf("BulkGetSecret: %v", err)
	}
	assertSecrets(t, "BulkGetSecret after changing earlier results", allAgain, want)
}

// assertSecrets compares two sets of secrets and reports each difference.
func assertSecrets(t *testing.T, what string, got, want Secrets) {
	t.Helper()
	for name, data := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("%s: secret %q missing", what, name)
			continue
		}
		if !maps.Equal(g, data) {
			t.Errorf("%s: secret %q = %q, want %q", what, name, g, data)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: unexpected secret %q", what, name)
		}
	}
}
