package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/testutil"
)

const (
	pgAddr    = "127.0.0.1:5432"
	adminConn = "host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=disable"
)

// testDB describes the unique names one test uses; all its tables are
// dropped when the test ends.
type testDB struct {
	id      string // unique suffix, also the application_name
	conn    string // connection string for the store
	table   string // v1 table name / v2 table prefix + "state"
	prefix  string // v2 table prefix
	meta    string // metadata table
	admin   *pgx.Conn
	dropped []string
}

func newTestDB(t *testing.T) *testDB {
	t.Helper()
	testutil.RequireService(t, "PostgreSQL", pgAddr)
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	id := "ort_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, adminConn)
	if err != nil {
		t.Fatalf("connect to PostgreSQL at %s: %v", pgAddr, err)
	}
	db := &testDB{
		id:     id,
		conn:   adminConn + " application_name=" + id,
		table:  id + "_state",
		prefix: id + "_",
		meta:   id + "_meta",
		admin:  admin,
	}
	db.dropped = []string{`"` + db.table + `"`, `"` + db.meta + `"`}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, tbl := range db.dropped {
			if _, err := admin.Exec(ctx, "DROP TABLE IF EXISTS "+tbl); err != nil {
				t.Errorf("drop %s: %v", tbl, err)
			}
		}
		admin.Close(ctx)
	})
	return db
}

// props returns component metadata for the store under test.
func (db *testDB) props(v2 bool) map[string]string {
	p := map[string]string{"connectionString": db.conn, "metadataTableName": db.meta}
	if v2 {
		p["tablePrefix"] = db.prefix
	} else {
		p["tableName"] = db.table
	}
	return p
}

// open initialises a store and closes it when the test ends.
func (db *testDB) open(t *testing.T, v2 bool, extra map[string]string) *Store {
	t.Helper()
	p := db.props(v2)
	for k, v := range extra {
		p[k] = v
	}
	s := &Store{v2: v2}
	if err := s.Init(t.Context(), state.Metadata{Name: "pgtest", Properties: p}); err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// exec runs raw SQL as the admin connection.
func (db *testDB) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := db.admin.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// restart terminates every session the stores of this test opened.
func (db *testDB) restart(t *testing.T) {
	t.Helper()
	var n int
	err := db.admin.QueryRow(t.Context(),
		"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", db.id).Scan(&n)
	if err != nil {
		t.Fatalf("terminate backends: %v", err)
	}
	if n == 0 {
		t.Fatalf("no sessions with application_name %s to terminate", db.id)
	}
	// pg_terminate_backend only signals; wait until the sessions are gone.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		err := db.admin.QueryRow(t.Context(), "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", db.id).Scan(&n)
		if err != nil {
			t.Fatalf("count sessions: %v", err)
		}
		if n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%d sessions still alive after pg_terminate_backend", n)
}

func ptr[T any](v T) *T { return &v }
