package secretstoretest

import (
	"maps"
	"testing"
)

// testRequestMetadata: the core passes the request's metadata through to
// the store. Keys a store does not know change nothing; a store with
// scopes (Backend.Scoped) must honour the metadata that selects one.
func (b Backend) testRequestMetadata(t *testing.T) {
	t.Run("UnknownKeysIgnored", func(t *testing.T) {
		want := fixture(b.MultiValued)
		s := b.newStore(t, want)
		md := map[string]string{"suite.unknown": "x", "ttlInSeconds": "10"}
		for name, data := range want {
			got, err := s.GetSecret(ctxFor(t), name, md)
			if err != nil || !maps.Equal(got, data) {
				t.Errorf("GetSecret(%q, %v) = %q, %v; want %q", name, md, got, err, data)
			}
		}
		all, err := s.BulkGetSecret(ctxFor(t), md)
		if err != nil {
			t.Fatalf("BulkGetSecret(%v): %v", md, err)
		}
		assertSecrets(t, "BulkGetSecret with unknown metadata", all, want)
	})
	if b.Scoped == nil {
		t.Log("store has no scopes selected by request metadata")
		return
	}
	t.Run("SelectsScope", func(t *testing.T) {
		want := fixture(b.MultiValued)
		s, md := b.Scoped(t, clone(want))
		for name, data := range want {
			got, err := s.GetSecret(ctxFor(t), name, md)
			if err != nil || !maps.Equal(got, data) {
				t.Errorf("GetSecret(%q, %v) = %q, %v; want %q", name, md, got, err, data)
			}
			assertMissing(t, b, s, name, nil)
		}
		all, err := s.BulkGetSecret(ctxFor(t), md)
		if err != nil {
			t.Fatalf("BulkGetSecret(%v): %v", md, err)
		}
		assertSecrets(t, "BulkGetSecret in the selected scope", all, want)

		outside, err := s.BulkGetSecret(ctxFor(t), nil)
		if err != nil {
			t.Fatalf("BulkGetSecret without metadata: %v", err)
		}
		for name := range want {
			if _, ok := outside[name]; ok {
				t.Errorf("BulkGetSecret without metadata returned %q from the other scope", name)
			}
		}
	})
}
