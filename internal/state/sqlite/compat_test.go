package sqlite

import (
	"database/sql"
	"encoding/base64"
	"path/filepath"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/internal/storetest"
)

// These tests check the on-disk layout against what Dapr's SQLite state
// store creates and writes (components-contrib state/sqlite, migration 1).

// daprDB creates a database laid out and filled as Dapr would leave it.
func daprDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dapr.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stmts := []string{
		`CREATE TABLE metadata (key text NOT NULL PRIMARY KEY, value text NOT NULL)`,
		`CREATE TABLE state (
			key TEXT NOT NULL PRIMARY KEY,
			value TEXT NOT NULL,
			is_binary BOOLEAN NOT NULL,
			etag TEXT NOT NULL,
			expiration_time TIMESTAMP DEFAULT NULL,
			update_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)`,
		`REPLACE INTO metadata (key, value) VALUES ('migrations', '1')`,
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	// Dapr's insert: JSON as text, binary as base64 with is_binary, a UUID
	// etag, expiry from DATETIME(CURRENT_TIMESTAMP, '+N seconds').
	ins := `INSERT OR REPLACE INTO state (key, value, is_binary, etag, update_time, expiration_time)
		VALUES (?, ?, ?, ?, CURRENT_TIMESTAMP, `
	rows := []struct {
		key, value, etag, expiry string
		binary                   bool
	}{
		{"app||json", `{"b":2, "a":[1,2]}`, "6f1d7c1e-3b8e-4b8f-9f0e-0c2b7a5d9e11", "NULL", false},
		{"app||bin", base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 0xff}), "0e3f5b8a-1c2d-4e5f-8a9b-0c1d2e3f4a5b", "NULL", true},
		{"app||ttl", `"soon"`, "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d", "DATETIME(CURRENT_TIMESTAMP, '+60 seconds')", false},
		{"app||gone", `"old"`, "1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d", "DATETIME(CURRENT_TIMESTAMP, '-10 seconds')", false},
	}
	for _, r := range rows {
		if _, err := db.Exec(ins+r.expiry+`)`, r.key, r.value, r.binary, r.etag); err != nil {
			t.Fatalf("insert %s: %v", r.key, err)
		}
	}
	return path
}

func TestReadsDaprRows(t *testing.T) {
	s := openStore(t, map[string]string{"connectionString": daprDB(t)})
	storetest.CheckDaprReads(t, s, []storetest.DaprRow{
		{Key: "app||json", ETag: "6f1d7c1e-3b8e-4b8f-9f0e-0c2b7a5d9e11", Want: []byte(`{"b":2, "a":[1,2]}`)},
		{Key: "app||bin", ETag: "0e3f5b8a-1c2d-4e5f-8a9b-0c1d2e3f4a5b", Want: []byte{0, 1, 2, 0xff}},
		{Key: "app||ttl", ETag: "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d", Want: []byte(`"soon"`), TTL: true},
	}, "app||gone")
	storetest.CheckDaprWrites(t, s, "app||json", "6f1d7c1e-3b8e-4b8f-9f0e-0c2b7a5d9e11", "app||gone")
}

func TestWritesDaprRows(t *testing.T) {
	path := daprDB(t)
	s := openStore(t, map[string]string{"connectionString": path})
	ctx := t.Context()
	bin := []byte{0xde, 0xad, 0xbe, 0xef, 0}
	writes := []state.SetRequest{
		{Key: "w||json", Value: []byte(`{"z":1,"a":"x"}`)},
		{Key: "w||bin", Value: bin, Binary: true},
		{Key: "w||ttl", Value: []byte(`1`), Metadata: map[string]string{"ttlInSeconds": "100"}},
	}
	for _, w := range writes {
		if err := s.Set(ctx, w); err != nil {
			t.Fatalf("Set(%q): %v", w.Key, err)
		}
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Dapr's own read query, with its CURRENT_TIMESTAMP comparison.
	q := `SELECT value, is_binary, etag, expiration_time, typeof(value), typeof(is_binary) FROM state
		WHERE key = ? AND (expiration_time IS NULL OR expiration_time > CURRENT_TIMESTAMP)`
	tests := []struct {
		key     string
		value   string
		binary  bool
		expires bool
	}{
		{"w||json", `{"z":1,"a":"x"}`, false, false},
		{"w||bin", base64.StdEncoding.EncodeToString(bin), true, false},
		{"w||ttl", `1`, false, true},
	}
	for _, tc := range tests {
		var (
			value, etag, valType, binType string
			binary                        bool
			exp                           sql.NullTime
		)
		if err := db.QueryRow(q, tc.key).Scan(&value, &binary, &etag, &exp, &valType, &binType); err != nil {
			t.Fatalf("Dapr's query for %q: %v", tc.key, err)
		}
		if value != tc.value || binary != tc.binary || valType != "text" || binType != "integer" {
			t.Errorf("row %q: value %q (%s) is_binary %v (%s), want %q (text) %v (integer)", tc.key, value, valType, binary, binType, tc.value, tc.binary)
		}
		if !storetest.UUIDPattern.MatchString(etag) {
			t.Errorf("row %q: etag %q is not a UUID", tc.key, etag)
		}
		if exp.Valid != tc.expires {
			t.Errorf("row %q: expiration_time %v, want set=%v", tc.key, exp, tc.expires)
		}
		if exp.Valid {
			if d := time.Until(exp.Time); d < 95*time.Second || d > 105*time.Second {
				t.Errorf("row %q: expiration_time %v is %v from now, want about 100s", tc.key, exp.Time, d)
			}
		}
	}
	var level string
	if err := db.QueryRow(`SELECT value FROM metadata WHERE key = 'migrations'`).Scan(&level); err != nil || level != "1" {
		t.Errorf("migrations level = %q, %v; want \"1\"", level, err)
	}
}

// TestCreatesDaprSchema checks the tables a fresh store creates.
func TestCreatesDaprSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fresh.db")
	openStore(t, map[string]string{"connectionString": path, "tableName": "mystate", "metadataTableName": "mymeta"})
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cols := map[string]string{}
	rows, err := db.Query(`SELECT name, type FROM pragma_table_info('mystate')`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		cols[name] = typ
	}
	rows.Close()
	want := map[string]string{"key": "TEXT", "value": "TEXT", "is_binary": "BOOLEAN", "etag": "TEXT", "expiration_time": "TIMESTAMP", "update_time": "TIMESTAMP"}
	for name, typ := range want {
		if cols[name] != typ {
			t.Errorf("column %s: type %q, want %q (all columns: %v)", name, cols[name], typ, cols)
		}
	}
	var level string
	if err := db.QueryRow(`SELECT value FROM mymeta WHERE key = 'migrations'`).Scan(&level); err != nil || level != "1" {
		t.Errorf("migrations level = %q, %v; want \"1\"", level, err)
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
}
