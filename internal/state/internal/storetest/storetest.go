// Package storetest holds test helpers shared by the SQL state stores'
// tests (what Dapr's rows read back as, KeysLike checks, polling,
// concurrent workers). It is for tests only; the conformance suite every
// store runs is statetest.
package storetest

import (
	"bytes"
	"errors"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/state"
)

// UUIDPattern matches a random (version 4) UUID, the ETag form Dapr's SQL
// stores write.
var UUIDPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// DaprRow is a row a test wrote the way Dapr's store does, and what Get
// must return for it.
type DaprRow struct {
	Key, ETag string
	Want      []byte
	TTL       bool // written to expire about 60s from now
}

// CheckDaprReads gets every row and checks its data, ETag and
// ttlExpireTime, then that expiredKey, a row past its expiry, reads as not
// found.
func CheckDaprReads(t *testing.T, s state.Store, rows []DaprRow, expiredKey string) {
	t.Helper()
	ctx := t.Context()
	for _, tc := range rows {
		res, err := s.Get(ctx, state.GetRequest{Key: tc.Key})
		if err != nil || !res.Found {
			t.Fatalf("Get(%q) = %+v, %v", tc.Key, res, err)
		}
		if !bytes.Equal(res.Data, tc.Want) || res.ETag != tc.ETag {
			t.Errorf("Get(%q) = %q etag %q, want %q etag %q", tc.Key, res.Data, res.ETag, tc.Want, tc.ETag)
		}
		exp, hasTTL := res.Metadata[state.MetaTTLExpireTime]
		if hasTTL != tc.TTL {
			t.Errorf("Get(%q) metadata %v, want ttlExpireTime present=%v", tc.Key, res.Metadata, tc.TTL)
		}
		if hasTTL {
			got, err := time.Parse(time.RFC3339, exp)
			if err != nil || got.Before(time.Now().Add(55*time.Second)) || got.After(time.Now().Add(65*time.Second)) {
				t.Errorf("Get(%q) ttlExpireTime %q, want about now+60s in RFC3339", tc.Key, exp)
			}
		}
	}
	if res, err := s.Get(ctx, state.GetRequest{Key: expiredKey}); err != nil || res.Found {
		t.Errorf("Get(expired Dapr row) = %+v, %v; want not found", res, err)
	}
}

// CheckDaprWrites checks that Dapr's ETag of key works for a conditional
// write, and that a first-write over expiredKey, a Dapr row past its
// expiry, succeeds: the row counts as absent.
func CheckDaprWrites(t *testing.T, s state.Store, key, etag, expiredKey string) {
	t.Helper()
	ctx := t.Context()
	if err := s.Set(ctx, state.SetRequest{Key: key, Value: []byte(`3`), ETag: &etag}); err != nil {
		t.Errorf("Set with Dapr's etag: %v", err)
	}
	if err := s.Set(ctx, state.SetRequest{Key: expiredKey, Value: []byte(`"new"`), Options: state.Options{Concurrency: state.FirstWrite}}); err != nil {
		t.Errorf("first-write over an expired row: %v", err)
	}
}

// LikeCase is a LIKE pattern and what a store's rewrite makes of it.
type LikeCase struct {
	Like, Want string
	Fails      bool
}

// CheckLikeRewrite runs rewrite, named name in messages, over tests.
func CheckLikeRewrite(t *testing.T, name string, rewrite func(string) (string, error), tests []LikeCase) {
	t.Helper()
	for _, tc := range tests {
		got, err := rewrite(tc.Like)
		if tc.Fails {
			if err == nil {
				t.Errorf("%s(%q) = %q, want an error", name, tc.Like, got)
			}
			continue
		}
		if err != nil || got != tc.Want {
			t.Errorf("%s(%q) = %q, %v; want %q", name, tc.Like, got, err, tc.Want)
		}
	}
}

// KeysLikeStore is a store with the KEYS_LIKE feature.
type KeysLikeStore interface {
	state.Store
	state.KeysLiker
}

// KeysLikeCase is a KeysLike pattern and the keys it must list.
type KeysLikeCase struct {
	Pattern string
	Want    []string
}

// CheckKeysLike stores keys, checks that each pattern lists its keys in one
// page, and that a pattern ending in an escape is an invalid request.
func CheckKeysLike(t *testing.T, s KeysLikeStore, keys []string, tests []KeysLikeCase) {
	t.Helper()
	for _, k := range keys {
		if err := s.Set(t.Context(), state.SetRequest{Key: k, Value: []byte(`1`)}); err != nil {
			t.Fatalf("Set(%q): %v", k, err)
		}
	}
	for _, tc := range tests {
		got, next, err := s.KeysLike(t.Context(), tc.Pattern, "", 0)
		if err != nil || next != "" || !slices.Equal(got, tc.Want) {
			t.Errorf("KeysLike(%q) = %q, next %q, %v; want %q", tc.Pattern, got, next, err, tc.Want)
		}
	}
	var ire *state.InvalidRequestError
	if _, _, err := s.KeysLike(t.Context(), `bad\`, "", 0); !errors.As(err, &ire) {
		t.Errorf(`KeysLike("bad\"): got %v, want *state.InvalidRequestError`, err)
	}
}

// Eventually calls done every poll until it returns true, and fails the
// test with msg when timeout has passed first.
func Eventually(t *testing.T, timeout, poll time.Duration, msg string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(poll)
	}
}

// Concurrently runs work(0) … work(n-1) in n goroutines, waits for all of
// them and reports every error; work names its worker in its errors.
func Concurrently(t *testing.T, n int, work func(w int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := work(w); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
