package postgres

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/pgmode"
	"github.com/outrigger/outrigger/internal/state"
)

func versionName(v2 bool) string {
	if v2 {
		return "v2"
	}
	return "v1"
}

// insertExpired writes an already expired row directly.
func (db *testDB) insertExpired(t *testing.T, v2 bool, key string) {
	t.Helper()
	if v2 {
		db.exec(t, `INSERT INTO "`+db.table+`" (key, value, expires_at) VALUES ($1, '\x01', now() - interval '1 minute')`, key)
		return
	}
	db.exec(t, `INSERT INTO "`+db.table+`" (key, value, isbinary, expiredate) VALUES ($1, '1', false, now() - interval '1 minute')`, key)
}

func (db *testDB) rowCount(t *testing.T) int {
	t.Helper()
	var n int
	if err := db.admin.QueryRow(t.Context(), `SELECT count(*) FROM "`+db.table+`"`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCleanupExpired(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		t.Run(versionName(v2), func(t *testing.T) {
			db := newTestDB(t)
			s := db.open(t, v2, map[string]string{"cleanupInterval": "1h"})
			lastKey := map[bool]string{false: "last-cleanup", true: "last-cleanup-state-v2-" + db.prefix}[v2]
			mustSet(t, s, state.SetRequest{Key: "live", Value: []byte(`1`)})
			db.insertExpired(t, v2, "old1")

			if n, err := s.CleanupExpired(t.Context()); err != nil || n != 1 {
				t.Fatalf("first cleanup: n=%d err=%v, want 1 row", n, err)
			}
			// Dapr's format: a timestamp PostgreSQL can parse back.
			db.exec(t, `SELECT value::timestamptz FROM "`+db.meta+`" WHERE key = $1`, lastKey)

			// Within the interval another sidecar (or this one) must skip.
			db.insertExpired(t, v2, "old2")
			if n, err := s.CleanupExpired(t.Context()); err != nil || n != 0 {
				t.Fatalf("second cleanup: n=%d err=%v, want skipped", n, err)
			}
			// Once the last cleanup is old enough, it runs again.
			db.exec(t, `UPDATE "`+db.meta+`" SET value = (now() - interval '2 hours')::text WHERE key = $1`, lastKey)
			if n, err := s.CleanupExpired(t.Context()); err != nil || n != 1 {
				t.Fatalf("third cleanup: n=%d err=%v, want 1 row", n, err)
			}
			if n := db.rowCount(t); n != 1 {
				t.Errorf("%d rows left, want only the live one", n)
			}
		})
	}
}

func TestCleanupInBackground(t *testing.T) {
	db := newTestDB(t)
	db.open(t, false, map[string]string{"cleanupInterval": "200ms"})
	db.insertExpired(t, false, "old")
	deadline := time.Now().Add(5 * time.Second)
	for db.rowCount(t) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("expired row still present 5s after start with cleanupInterval 200ms")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFirstCallAfterRestart checks that operations succeed on the first try
// after the server dropped every session, without the caller retrying.
func TestFirstCallAfterRestart(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		t.Run(versionName(v2), func(t *testing.T) {
			db := newTestDB(t)
			s := db.open(t, v2, nil)
			mustSet(t, s, state.SetRequest{Key: "k", Value: []byte(`1`)})

			db.restart(t)
			if res := mustGet(t, s, "k"); !res.Found {
				t.Fatal("Get after restart: not found")
			}
			db.restart(t)
			mustSet(t, s, state.SetRequest{Key: "k", Value: []byte(`2`)})
			db.restart(t)
			err := s.Multi(t.Context(), state.TransactionRequest{Operations: []state.Operation{
				{Type: state.OpUpsert, Set: state.SetRequest{Key: "k2", Value: []byte(`3`)}},
				{Type: state.OpDelete, Delete: state.DeleteRequest{Key: "k"}},
			}})
			if err != nil {
				t.Fatalf("Multi after restart: %v", err)
			}
			if res := mustGet(t, s, "k"); res.Found {
				t.Error("k still present after the transaction")
			}
		})
	}
}

func TestKeysLike(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		t.Run(versionName(v2), func(t *testing.T) {
			db := newTestDB(t)
			s := db.open(t, v2, nil)
			for _, k := range []string{"a||3", "a||1", "a||2", "b||1", "a_x"} {
				mustSet(t, s, state.SetRequest{Key: k, Value: []byte(`1`)})
			}
			db.insertExpired(t, v2, "a||0")

			var all []string
			token := ""
			for page := 0; page < 5; page++ {
				keys, next, err := s.KeysLike(t.Context(), `a||%`, token, 2)
				if err != nil {
					t.Fatalf("KeysLike page %d: %v", page, err)
				}
				all = append(all, keys...)
				if next == "" {
					break
				}
				token = next
			}
			if want := []string{"a||1", "a||2", "a||3"}; !slices.Equal(all, want) {
				t.Errorf("KeysLike(a||%%) = %q, want %q", all, want)
			}
			// '_' is a wildcard unless escaped.
			keys, _, err := s.KeysLike(t.Context(), `a\_%`, "", 0)
			if err != nil || !slices.Equal(keys, []string{"a_x"}) {
				t.Errorf(`KeysLike(a\_%%) = %q, %v; want [a_x]`, keys, err)
			}
		})
	}
}

// TestQueryExecModes runs the ETag paths under every queryExecMode, since
// the xid and uuid arguments are encoded differently in each.
func TestQueryExecModes(t *testing.T) {
	for _, mode := range pgmode.Names {
		for _, v2 := range []bool{false, true} {
			t.Run(mode+"/"+versionName(v2), func(t *testing.T) {
				db := newTestDB(t)
				s := db.open(t, v2, map[string]string{"queryExecMode": mode})
				mustSet(t, s, state.SetRequest{Key: "k", Value: []byte(`{"n":1}`), Metadata: map[string]string{"ttlInSeconds": "60"}})
				res := mustGet(t, s, "k")
				mustSet(t, s, state.SetRequest{Key: "k", Value: []byte(`{"n":2}`), ETag: &res.ETag})
				err := s.Delete(t.Context(), state.DeleteRequest{Key: "k", ETag: &res.ETag})
				expectETagErr(t, "Delete with a stale etag", err, state.ETagMismatch)
				items, err := s.BulkGet(t.Context(), []state.GetRequest{{Key: "k"}, {Key: "missing"}})
				if err != nil || len(items) != 2 || !items[0].Found || items[1].Found {
					t.Fatalf("BulkGet: %+v, %v", items, err)
				}
				if err := s.Delete(t.Context(), state.DeleteRequest{Key: "k", ETag: &items[0].ETag}); err != nil {
					t.Errorf("Delete with the current etag: %v", err)
				}
			})
		}
	}
}

// TestEtagOfMissingKey follows the store contract: an ETag for a missing
// key is a mismatch, and first-write refuses an existing key.
func TestEtagOfMissingKey(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		t.Run(versionName(v2), func(t *testing.T) {
			db := newTestDB(t)
			s := db.open(t, v2, nil)
			etag := map[bool]string{false: strconv.Itoa(12345), true: "0b6a8f1e-0a43-4c2e-9d55-1f2f86b0a001"}[v2]
			err := s.Set(t.Context(), state.SetRequest{Key: "nope", Value: []byte(`1`), ETag: &etag})
			expectETagErr(t, "Set on a missing key with an etag", err, state.ETagMismatch)
			err = s.Delete(t.Context(), state.DeleteRequest{Key: "nope", ETag: &etag})
			expectETagErr(t, "Delete on a missing key with an etag", err, state.ETagMismatch)

			fw := state.Options{Concurrency: state.FirstWrite}
			mustSet(t, s, state.SetRequest{Key: "fw", Value: []byte(`1`), Options: fw})
			err = s.Set(t.Context(), state.SetRequest{Key: "fw", Value: []byte(`2`), Options: fw})
			expectETagErr(t, "first-write Set on an existing key", err, state.ETagMismatch)
			// An expired row not yet cleaned up does not block first-write.
			db.insertExpired(t, v2, "fw-expired")
			mustSet(t, s, state.SetRequest{Key: "fw-expired", Value: []byte(`3`), Options: fw})
		})
	}
}

// TestConcurrentInit starts several stores on the same fresh tables at once,
// as sidecars of one app do; the migration lock must serialise them.
func TestConcurrentInit(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		t.Run(versionName(v2), func(t *testing.T) {
			db := newTestDB(t)
			const n = 4
			errs := make(chan error, n)
			stores := make([]*Store, n)
			for i := range stores {
				stores[i] = &Store{v2: v2}
				go func() {
					errs <- stores[i].Init(t.Context(), state.Metadata{Name: "pgtest", Properties: db.props(v2)})
				}()
			}
			for range n {
				if err := <-errs; err != nil {
					t.Errorf("Init: %v", err)
				}
			}
			for _, s := range stores {
				s.Close()
			}
		})
	}
}
