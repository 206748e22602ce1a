package mysql

import (
	"bytes"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/internal/storetest"
)

// These tests check the tables against what Dapr's MySQL state store
// creates and writes (components-contrib state/mysql).

// daprSchema creates a schema laid out and filled as Dapr would leave it.
func daprSchema(t *testing.T) (string, *sql.DB) {
	t.Helper()
	schema, admin := testSchema(t)
	stmts := []string{
		`CREATE DATABASE ` + schema,
		`CREATE TABLE ` + schema + `.state (
			id VARCHAR(255) NOT NULL PRIMARY KEY,
			value JSON NOT NULL,
			isbinary BOOLEAN NOT NULL,
			insertDate TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
			updateDate TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
			eTag VARCHAR(36) NOT NULL,
			expiredate TIMESTAMP NULL,
			INDEX expiredate_idx(expiredate))`,
		`CREATE TABLE ` + schema + `.dapr_metadata (id VARCHAR(255) NOT NULL PRIMARY KEY, value TEXT NOT NULL)`,
	}
	for _, q := range stmts {
		if _, err := admin.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// Dapr's REPLACE: JSON as is, binary as a JSON string of base64, a UUID
	// eTag, expiry CURRENT_TIMESTAMP + INTERVAL n SECOND.
	binJSON, _ := json.Marshal(base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 0xff}))
	rows := []struct {
		id, value, etag, expiry string
		binary                  bool
	}{
		{"app||json", `{"b": 2, "a": [1, 2]}`, "6f1d7c1e-3b8e-4b8f-9f0e-0c2b7a5d9e11", "NULL", false},
		{"app||bin", string(binJSON), "0e3f5b8a-1c2d-4e5f-8a9b-0c1d2e3f4a5b", "NULL", true},
		{"app||ttl", `"soon"`, "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d", "CURRENT_TIMESTAMP + INTERVAL 60 SECOND", false},
		{"app||gone", `"old"`, "1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d", "CURRENT_TIMESTAMP - INTERVAL 10 SECOND", false},
	}
	for _, r := range rows {
		q := `REPLACE INTO ` + schema + `.state (id, value, eTag, isbinary, expiredate) VALUES (?, ?, ?, ?, ` + r.expiry + `)`
		if _, err := admin.Exec(q, r.id, r.value, r.etag, r.binary); err != nil {
			t.Fatalf("insert %s: %v", r.id, err)
		}
	}
	return schema, admin
}

func openOn(t *testing.T, schema string) *Store {
	t.Helper()
	s := New()
	err := s.Init(t.Context(), state.Metadata{Properties: map[string]string{
		"connectionString": serverDSN, "schemaName": schema,
	}})
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestReadsDaprRows(t *testing.T) {
	schema, admin := daprSchema(t)
	s := openOn(t, schema)
	ctx := t.Context()
	jsonWant := []byte(`{"b": 2, "a": [1, 2]}`)
	if !isMariaDB(t, admin) {
		jsonWant = []byte(`{"a": [1, 2], "b": 2}`) // MySQL's JSON type re-encodes
	}
	storetest.CheckDaprReads(t, s, []storetest.DaprRow{
		{Key: "app||json", ETag: "6f1d7c1e-3b8e-4b8f-9f0e-0c2b7a5d9e11", Want: jsonWant},
		{Key: "app||bin", ETag: "0e3f5b8a-1c2d-4e5f-8a9b-0c1d2e3f4a5b", Want: []byte{0, 1, 2, 0xff}},
		{Key: "app||ttl", ETag: "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d", Want: []byte(`"soon"`), TTL: true},
	}, "app||gone")
	items, err := s.BulkGet(ctx, []state.GetRequest{{Key: "app||bin"}, {Key: "app||gone"}})
	if err != nil || len(items) != 2 || !bytes.Equal(items[0].Data, []byte{0, 1, 2, 0xff}) || items[1].Found {
		t.Errorf("BulkGet(bin, gone) = %+v, %v", items, err)
	}
	storetest.CheckDaprWrites(t, s, "app||json", "6f1d7c1e-3b8e-4b8f-9f0e-0c2b7a5d9e11", "app||gone")
}

func TestWritesDaprRows(t *testing.T) {
	s, schema, admin := openStore(t, map[string]string{})
	ctx := t.Context()
	bin := []byte{0xde, 0xad, 0xbe, 0xef, 0}
	writes := []state.SetRequest{
		{Key: "w||json", Value: []byte(`{"z":1}`)},
		{Key: "w||bin", Value: bin, Binary: true},
		{Key: "w||ttl", Value: []byte(`1`), Metadata: map[string]string{"ttlInSeconds": "100"}},
	}
	for _, w := range writes {
		if err := s.Set(ctx, w); err != nil {
			t.Fatalf("Set(%q): %v", w.Key, err)
		}
	}
	// Dapr's own read query, with its string handling of expiredate.
	q := `SELECT value, eTag, isbinary, IFNULL(expiredate, "") FROM ` + schema + `.state
		WHERE id = ? AND (expiredate IS NULL OR expiredate > CURRENT_TIMESTAMP)`
	for _, w := range writes {
		var (
			value       []byte
			etag, exp   string
			binary      bool
			wantExpires = w.Metadata != nil
		)
		if err := admin.QueryRow(q, w.Key).Scan(&value, &etag, &binary, &exp); err != nil {
			t.Fatalf("Dapr's query for %q: %v", w.Key, err)
		}
		data := value
		if binary {
			var s string
			if err := json.Unmarshal(value, &s); err != nil {
				t.Fatalf("row %q: binary value %q is not a JSON string: %v", w.Key, value, err)
			}
			data, _ = base64.StdEncoding.DecodeString(s)
		}
		if binary != w.Binary || !bytes.Equal(data, w.Value) {
			t.Errorf("row %q: isbinary %v value %q (decoded %q), want %v %q", w.Key, binary, value, data, w.Binary, w.Value)
		}
		if !storetest.UUIDPattern.MatchString(etag) {
			t.Errorf("row %q: eTag %q is not a UUID", w.Key, etag)
		}
		if (exp != "") != wantExpires {
			t.Errorf("row %q: expiredate %q, want set=%v", w.Key, exp, wantExpires)
		}
	}
	// The session time zone is the server's; compare on the server.
	var secs int64
	if err := admin.QueryRow(`SELECT TIMESTAMPDIFF(SECOND, CURRENT_TIMESTAMP, expiredate) FROM ` + schema + `.state WHERE id = 'w||ttl'`).Scan(&secs); err != nil || secs < 99 || secs > 101 {
		t.Errorf("w||ttl expires in %ds (%v), want about 100s", secs, err)
	}
	var coll string
	if err := admin.QueryRow(`SELECT collation_name FROM information_schema.columns WHERE table_schema = ? AND table_name = 'state' AND column_name = 'id'`, schema).Scan(&coll); err != nil || !strings.HasSuffix(coll, "_bin") {
		t.Errorf("id collation = %q, %v; want a binary collation", coll, err)
	}
}

// TestAddsExpiredateColumn upgrades a table from before Dapr 1.11.
func TestAddsExpiredateColumn(t *testing.T) {
	schema, admin := testSchema(t)
	for _, q := range []string{
		`CREATE DATABASE ` + schema,
		`CREATE TABLE ` + schema + `.state (id VARCHAR(255) NOT NULL PRIMARY KEY, value JSON NOT NULL,
			isbinary BOOLEAN NOT NULL, insertDate TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
			updateDate TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, eTag VARCHAR(36) NOT NULL)`,
	} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	s := openOn(t, schema)
	if err := s.Set(t.Context(), state.SetRequest{Key: "k", Value: []byte(`1`), Metadata: map[string]string{"ttlInSeconds": "30"}}); err != nil {
		t.Fatalf("Set with TTL on an upgraded table: %v", err)
	}
}
