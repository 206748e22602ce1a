package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/internal/storetest"
	"github.com/outrigger/outrigger/internal/state/query"
	"github.com/outrigger/outrigger/internal/state/statetest"
	"github.com/outrigger/outrigger/internal/testutil"
)

func TestConformanceFile(t *testing.T) {
	statetest.Run(t, statetest.Config{
		New: func() state.Store { return New() },
		Metadata: state.Metadata{Name: "statestore", Properties: map[string]string{
			"connectionString": filepath.Join(t.TempDir(), "state.db"),
		}},
		TTLExpireTimeInGet: true,
	})
}

func TestConformanceMemory(t *testing.T) {
	statetest.Run(t, statetest.Config{
		New: func() state.Store { return New() },
		Metadata: state.Metadata{Name: "statestore", Properties: map[string]string{
			"connectionString": ":memory:",
		}},
		TTLExpireTimeInGet: true,
	})
}

// openStore initialises a store on a fresh file and closes it with the test.
func openStore(t *testing.T, props map[string]string) *Store {
	t.Helper()
	if props["connectionString"] == "" {
		props["connectionString"] = filepath.Join(t.TempDir(), "state.db")
	}
	s := New()
	if err := s.Init(t.Context(), state.Metadata{Name: "test", Properties: props}); err != nil {
		t.Fatalf("Init(%v): %v", props, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestConcurrentWrites checks that 16 concurrent writers never see
// SQLITE_BUSY, on one store and on two stores sharing a file (as two
// sidecars would).
func TestConcurrentWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	a := openStore(t, map[string]string{"connectionString": path})
	b := openStore(t, map[string]string{"connectionString": path, "busyTimeout": "10s"})
	stores := []*Store{a, b}
	const workers, writes = 16, 40
	storetest.Concurrently(t, workers, func(w int) error {
		s := stores[w%2]
		for i := range writes {
			key := fmt.Sprintf("k-%d-%d", w, i%5)
			if err := s.Set(context.Background(), state.SetRequest{Key: key, Value: fmt.Appendf(nil, "%d", i)}); err != nil {
				return fmt.Errorf("worker %d Set(%q): %w", w, key, err)
			}
			ops := []state.Operation{
				{Type: state.OpUpsert, Set: state.SetRequest{Key: key + "-tx", Value: []byte(`1`)}},
				{Type: state.OpDelete, Delete: state.DeleteRequest{Key: key}},
			}
			if err := s.Multi(context.Background(), state.TransactionRequest{Operations: ops}); err != nil {
				return fmt.Errorf("worker %d Multi: %w", w, err)
			}
		}
		return nil
	})
}

func TestCleanupRemovesExpiredRows(t *testing.T) {
	s := openStore(t, map[string]string{"cleanupInterval": "100ms"})
	ctx := t.Context()
	// Backdate a row so it is already expired.
	if err := s.Set(ctx, state.SetRequest{Key: "old", Value: []byte(`1`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.wdb.ExecContext(ctx, `UPDATE state SET expiration_time = DATETIME(CURRENT_TIMESTAMP, '-5 seconds') WHERE key = 'old'`); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, state.SetRequest{Key: "live", Value: []byte(`1`), Metadata: map[string]string{"ttlInSeconds": "60"}}); err != nil {
		t.Fatal(err)
	}
	storetest.Eventually(t, 5*time.Second, 50*time.Millisecond, "expired row still present after 5s with cleanupInterval=100ms", func() bool {
		var n int
		if err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM state WHERE key = 'old'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 0
	})
	if res, err := s.Get(ctx, state.GetRequest{Key: "live"}); err != nil || !res.Found {
		t.Fatalf("Get(live) = %+v, %v; want the unexpired row kept", res, err)
	}
	var last string
	if err := s.rdb.QueryRowContext(ctx, `SELECT value FROM metadata WHERE key = 'last-cleanup'`).Scan(&last); err != nil {
		t.Fatalf("last-cleanup not recorded: %v", err)
	}
}

func TestInitRejectsBadMetadata(t *testing.T) {
	tests := []struct {
		name  string
		props map[string]string
	}{
		{"missing connection string", map[string]string{}},
		{"bad table name", map[string]string{"connectionString": ":memory:", "tableName": "state; DROP"}},
		{"bad metadata table name", map[string]string{"connectionString": ":memory:", "metadataTableName": "a-b"}},
		{"bad timeout", map[string]string{"connectionString": ":memory:", "timeout": "soon"}},
		{"timeout too small", map[string]string{"connectionString": ":memory:", "timeout": "10ms"}},
		{"busy_timeout pragma", map[string]string{"connectionString": "file:x.db?_pragma=busy_timeout(1)"}},
		{"journal_mode pragma", map[string]string{"connectionString": "x.db?_pragma=journal_mode(WAL)"}},
		{"bad disableWAL", map[string]string{"connectionString": ":memory:", "disableWAL": "maybe"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			defer s.Close()
			if err := s.Init(t.Context(), state.Metadata{Properties: tc.props}); err == nil {
				t.Errorf("Init(%v) = nil, want an error", tc.props)
			}
		})
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name  string
		props map[string]string
		want  config
	}{
		{"defaults", map[string]string{"connectionString": "a.db"}, config{
			connString: "a.db", timeout: 20 * time.Second, busyTimeout: 2 * time.Second,
			tableName: "state", metadataTableName: "metadata",
		}},
		{"aliases and integers as seconds", map[string]string{
			"url": "b.db", "timeoutInSeconds": "30", "cleanupIntervalInSeconds": "3600",
			"busyTimeout": "150ms", "disableWAL": "true", "tableName": "t1", "metadataTableName": "m1",
		}, config{
			connString: "b.db", timeout: 30 * time.Second, busyTimeout: 150 * time.Millisecond,
			disableWAL: true, tableName: "t1", metadataTableName: "m1", cleanupInterval: time.Hour,
		}},
		{"case-insensitive keys", map[string]string{"ConnectionString": "c.db", "CleanupInterval": "2h"}, config{
			connString: "c.db", timeout: 20 * time.Second, busyTimeout: 2 * time.Second,
			tableName: "state", metadataTableName: "metadata", cleanupInterval: 2 * time.Hour,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseConfig(tc.props)
			if err != nil {
				t.Fatalf("parseConfig(%v): %v", tc.props, err)
			}
			if got != tc.want {
				t.Errorf("parseConfig(%v) = %+v, want %+v", tc.props, got, tc.want)
			}
		})
	}
}

func TestDSN(t *testing.T) {
	tests := []struct {
		conn, want string
		disableWAL bool
	}{
		{conn: "data.db", want: "data.db?_pragma=busy_timeout%282000%29&_pragma=journal_mode%28WAL%29&_pragma=synchronous%28NORMAL%29&_txlock=immediate"},
		{conn: "data.db", disableWAL: true, want: "data.db?_pragma=busy_timeout%282000%29&_pragma=journal_mode%28DELETE%29&_txlock=immediate"},
		{conn: ":memory:", want: ":memory:?_pragma=busy_timeout%282000%29&_pragma=journal_mode%28MEMORY%29&_txlock=immediate"},
		{conn: "file:data.db?mode=ro", want: "file:data.db?_pragma=busy_timeout%282000%29&_pragma=journal_mode%28DELETE%29&_txlock=immediate&mode=ro"},
		{conn: "data.db?_txlock=deferred&_pragma=synchronous(FULL)", want: "data.db?_pragma=synchronous%28FULL%29&_pragma=busy_timeout%282000%29&_pragma=journal_mode%28WAL%29&_txlock=deferred"},
	}
	for _, tc := range tests {
		c := config{connString: tc.conn, busyTimeout: 2 * time.Second, disableWAL: tc.disableWAL}
		got, err := c.dsn()
		if err != nil {
			t.Errorf("dsn(%q): %v", tc.conn, err)
			continue
		}
		if got != tc.want {
			t.Errorf("dsn(%q, disableWAL=%v) =\n %s\nwant\n %s", tc.conn, tc.disableWAL, got, tc.want)
		}
	}
}

// benchStore opens a store on a fresh file, closed when b ends.
func benchStore(b *testing.B) *Store {
	b.Helper()
	s := New()
	if err := s.Init(context.Background(), state.Metadata{Properties: map[string]string{
		"connectionString": filepath.Join(b.TempDir(), "bench.db"),
	}}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

func BenchmarkSet(b *testing.B) {
	s := benchStore(b)
	val := []byte(`{"name":"bench","count":12345}`)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if err := s.Set(b.Context(), state.SetRequest{Key: fmt.Sprintf("k%d", i%1000), Value: val}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkGet(b *testing.B) {
	s := benchStore(b)
	for i := range 1000 {
		if err := s.Set(context.Background(), state.SetRequest{Key: fmt.Sprintf("k%d", i), Value: []byte(`{"a":1}`)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if _, err := s.Get(b.Context(), state.GetRequest{Key: fmt.Sprintf("k%d", i%1000)}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestPrefixEnd(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"app||", "app|}", true},
		{"a", "b", true},
		{"a\xff", "b", true},
		{"\xff\xff", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		got, ok := prefixEnd(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("prefixEnd(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestQueryScopesByPrefix checks that a query sees only its prefix's live
// JSON rows, including keys that sort right after the prefix.
func TestQueryScopesByPrefix(t *testing.T) {
	s := openStore(t, map[string]string{})
	ctx := t.Context()
	sets := []state.SetRequest{
		{Key: "app||a", Value: []byte(`{"n":1}`)},
		{Key: "app||b", Value: []byte(`{"n":2}`)},
		{Key: "app||bin", Value: []byte{1, 2}, Binary: true},
		{Key: "app|}", Value: []byte(`{"n":3}`)},
		{Key: "apq||c", Value: []byte(`{"n":4}`)},
		{Key: "other||a", Value: []byte(`{"n":5}`)},
	}
	for _, r := range sets {
		if err := s.Set(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.wdb.ExecContext(ctx, `UPDATE state SET expiration_time = '2000-01-01 00:00:00' WHERE key = 'app||b'`); err != nil {
		t.Fatal(err)
	}
	res, err := s.Query(ctx, state.QueryRequest{Query: &query.Query{}, KeyPrefix: "app||"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 1 || res.Results[0].Key != "app||a" || string(res.Results[0].Data) != `{"n":1}` || res.Results[0].ETag == "" {
		t.Errorf("Query(prefix app||) = %+v, want only app||a", res.Results)
	}
	res, err = s.Query(ctx, state.QueryRequest{Query: &query.Query{Token: "x"}, KeyPrefix: "app||"})
	var ire *state.InvalidRequestError
	if !errors.As(err, &ire) {
		t.Errorf("Query with a bad token: %v, %+v; want an InvalidRequestError", err, res)
	}
}

// TestConcurrentInitAcrossProcesses: sidecars started together on one new
// file all come up. While the first to open it switches it to WAL mode,
// SQLite answers the others' BEGIN with SQLITE_BUSY at once, without
// waiting for the busy timeout.
func TestConcurrentInitAcrossProcesses(t *testing.T) {
	const rounds, procs = 8, 6
	for round := range rounds {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("state-%d.db", round))
		testutil.RunTestProcesses(t, procs, "TestInitProcessHelper", func(int) []string { return []string{envInitDB + "=" + path} })
	}
}

const envInitDB = "OUTRIGGER_TEST_SQLITE_INIT_DB"

// TestInitProcessHelper is the child of TestConcurrentInitAcrossProcesses;
// on its own it does nothing.
func TestInitProcessHelper(t *testing.T) {
	path := os.Getenv(envInitDB)
	if path == "" {
		t.Skip("child process of TestConcurrentInitAcrossProcesses")
	}
	s := New()
	if err := s.Init(t.Context(), state.Metadata{Name: "test", Properties: map[string]string{"connectionString": path}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
