package postgres

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/state"
)

// The DDL below is what Dapr's PostgreSQL state store creates (v1 after its
// two migrations, v2 after its one), written out so the tests build tables
// exactly as a Dapr sidecar would have left them.

func daprV1Table(db *testDB) string {
	return `CREATE TABLE "` + db.table + `" (key text NOT NULL PRIMARY KEY, value jsonb NOT NULL, isbinary boolean NOT NULL,
		insertdate TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(), updatedate TIMESTAMP WITH TIME ZONE NULL,
		expiredate TIMESTAMP WITH TIME ZONE)`
}

func daprV2Table(db *testDB) string {
	return `CREATE TABLE "` + db.table + `" (key text NOT NULL PRIMARY KEY, value bytea NOT NULL,
		etag uuid NOT NULL DEFAULT gen_random_uuid(), created_at timestamp with time zone NOT NULL DEFAULT now(),
		updated_at timestamp with time zone, expires_at timestamp with time zone)`
}

func daprMetaTable(db *testDB, key, level string) []string {
	return []string{
		`CREATE TABLE "` + db.meta + `" (key text NOT NULL PRIMARY KEY, value text NOT NULL)`,
		`INSERT INTO "` + db.meta + `" (key, value) VALUES ('` + key + `', '` + level + `')`,
	}
}

func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("not JSON: %q", a)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("not JSON: %q", b)
	}
	return reflect.DeepEqual(x, y)
}

// rawV1 reads a v1 row as stored.
func (db *testDB) rawV1(t *testing.T, key string) (value string, isBinary bool, xmin string, expires *time.Time) {
	t.Helper()
	err := db.admin.QueryRow(t.Context(), `SELECT value::text, isbinary, xmin::text, expiredate FROM "`+db.table+`" WHERE key = $1`, key).
		Scan(&value, &isBinary, &xmin, &expires)
	if err != nil {
		t.Fatalf("read raw row %q: %v", key, err)
	}
	return value, isBinary, xmin, expires
}

// rawV2 reads a v2 row as stored.
func (db *testDB) rawV2(t *testing.T, key string) (value []byte, etag string, expires *time.Time) {
	t.Helper()
	err := db.admin.QueryRow(t.Context(), `SELECT value, etag::text, expires_at FROM "`+db.table+`" WHERE key = $1`, key).
		Scan(&value, &etag, &expires)
	if err != nil {
		t.Fatalf("read raw row %q: %v", key, err)
	}
	return value, etag, expires
}

func (db *testDB) metaValue(t *testing.T, key string) string {
	t.Helper()
	var v string
	if err := db.admin.QueryRow(t.Context(), `SELECT value FROM "`+db.meta+`" WHERE key = $1`, key).Scan(&v); err != nil {
		t.Fatalf("read metadata %q: %v", key, err)
	}
	return v
}

func mustGet(t *testing.T, s *Store, key string) state.GetResponse {
	t.Helper()
	res, err := s.Get(t.Context(), state.GetRequest{Key: key})
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return res
}

func mustSet(t *testing.T, s *Store, req state.SetRequest) {
	t.Helper()
	if err := s.Set(t.Context(), req); err != nil {
		t.Fatalf("Set(%q): %v", req.Key, err)
	}
}

func expectETagErr(t *testing.T, what string, err error, kind state.ETagErrorKind) {
	t.Helper()
	e, ok := state.AsETagError(err)
	if !ok || e.Kind != kind {
		t.Errorf("%s: err = %v, want ETag error kind %d", what, err, kind)
	}
}

// TestDaprV1RowsReadBack reads rows written the way Dapr's v1 store writes
// them.
func TestDaprV1RowsReadBack(t *testing.T) {
	db := newTestDB(t)
	db.exec(t, daprV1Table(db))
	for _, q := range daprMetaTable(db, "migrations", "2") {
		db.exec(t, q)
	}
	bin := []byte{0x00, 0xff, 0x10, '"', '\\'}
	ins := `INSERT INTO "` + db.table + `" (key, value, isbinary, expiredate) VALUES ($1, $2::jsonb, $3, $4)`
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	db.exec(t, ins, "app||json", `{"b": [true, null], "a": 1.5}`, false, nil)
	db.exec(t, ins, "app||bin", `"`+base64.StdEncoding.EncodeToString(bin)+`"`, true, nil)
	db.exec(t, ins, "app||ttl", `"soon"`, false, exp)
	db.exec(t, ins, "app||expired", `"gone"`, false, time.Now().Add(-time.Minute))

	s := db.open(t, false, nil)

	res := mustGet(t, s, "app||json")
	if !res.Found || !sameJSON(t, res.Data, []byte(`{"a":1.5,"b":[true,null]}`)) {
		t.Errorf("json row: Found=%v Data=%s", res.Found, res.Data)
	}
	if _, _, xmin, _ := db.rawV1(t, "app||json"); res.ETag != xmin {
		t.Errorf("json row: ETag %q, want the row's xmin %q", res.ETag, xmin)
	}
	if res := mustGet(t, s, "app||bin"); !bytes.Equal(res.Data, bin) {
		t.Errorf("binary row: Data %x, want %x", res.Data, bin)
	}
	res = mustGet(t, s, "app||ttl")
	if got, want := res.Metadata[state.MetaTTLExpireTime], exp.UTC().Format(time.RFC3339); got != want {
		t.Errorf("ttl row: ttlExpireTime %q, want %q", got, want)
	}
	if res := mustGet(t, s, "app||expired"); res.Found {
		t.Errorf("expired row: Found, want not found")
	}

	// The ETag Dapr would hand out (xmin) is accepted for writes.
	etag := mustGet(t, s, "app||json").ETag
	mustSet(t, s, state.SetRequest{Key: "app||json", Value: []byte(`{"a":2}`), ETag: &etag})
	err := s.Set(t.Context(), state.SetRequest{Key: "app||json", Value: []byte(`{"a":3}`), ETag: &etag})
	expectETagErr(t, "Set with the replaced xmin", err, state.ETagMismatch)
	err = s.Delete(t.Context(), state.DeleteRequest{Key: "app||json", ETag: ptr("not-a-number")})
	expectETagErr(t, "Delete with a non-numeric etag", err, state.ETagInvalid)

	if got := db.metaValue(t, "migrations"); got != "2" {
		t.Errorf("migration level %q, want 2 unchanged", got)
	}
}

// TestV1RowsAsDaprWritesThem checks that what the store writes is what
// Dapr's v1 store would write, so Dapr reads it back.
func TestV1RowsAsDaprWritesThem(t *testing.T) {
	db := newTestDB(t)
	s := db.open(t, false, nil)

	mustSet(t, s, state.SetRequest{Key: "app||json", Value: []byte(`{"x": [1, 2]}`)})
	value, isBinary, xmin, expires := db.rawV1(t, "app||json")
	if isBinary || !sameJSON(t, []byte(value), []byte(`{"x":[1,2]}`)) || expires != nil {
		t.Errorf("json row stored as value=%s isbinary=%v expiredate=%v", value, isBinary, expires)
	}
	if got := mustGet(t, s, "app||json").ETag; got != xmin {
		t.Errorf("ETag %q, want xmin %q", got, xmin)
	}

	bin := []byte{0xde, 0xad, 0xbe, 0xef, 0x00}
	mustSet(t, s, state.SetRequest{Key: "app||bin", Value: bin, Binary: true})
	value, isBinary, _, _ = db.rawV1(t, "app||bin")
	if want := `"` + base64.StdEncoding.EncodeToString(bin) + `"`; !isBinary || value != want {
		t.Errorf("binary row stored as value=%s isbinary=%v, want %s and true", value, isBinary, want)
	}

	// Bytes that claim to be JSON but are not must not be lost.
	notJSON := []byte("plain text")
	mustSet(t, s, state.SetRequest{Key: "app||text", Value: notJSON})
	if _, isBinary, _, _ = db.rawV1(t, "app||text"); !isBinary {
		t.Errorf("invalid JSON stored with isbinary=false")
	}
	if got := mustGet(t, s, "app||text").Data; !bytes.Equal(got, notJSON) {
		t.Errorf("invalid JSON read back as %q", got)
	}

	// jsonb refuses \u0000 even in valid JSON; such values go binary.
	nul := []byte(`{"s":"a\u0000b"}`)
	mustSet(t, s, state.SetRequest{Key: "app||nul", Value: nul})
	if got := mustGet(t, s, "app||nul").Data; !bytes.Equal(got, nul) {
		t.Errorf("JSON with \\u0000 read back as %q", got)
	}

	before := time.Now()
	mustSet(t, s, state.SetRequest{Key: "app||ttl", Value: []byte(`1`), Metadata: map[string]string{"ttlInSeconds": "100"}})
	_, _, _, expires = db.rawV1(t, "app||ttl")
	if expires == nil || expires.Before(before.Add(99*time.Second)) || expires.After(time.Now().Add(101*time.Second)) {
		t.Errorf("ttl row expiredate %v, want about now+100s", expires)
	}
}

func TestDaprV2Layout(t *testing.T) {
	db := newTestDB(t)
	db.exec(t, daprV2Table(db))
	for _, q := range daprMetaTable(db, "migrations-state-v2-"+db.prefix, "1") {
		db.exec(t, q)
	}
	ins := `INSERT INTO "` + db.table + `" (key, value, expires_at) VALUES ($1, $2, $3)`
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	raw := []byte("{ \"spaced\" :  true }")
	db.exec(t, ins, "app||doc", raw, nil)
	db.exec(t, ins, "app||ttl", []byte{0xff}, exp)
	db.exec(t, ins, "app||expired", []byte("x"), time.Now().Add(-time.Minute))

	s := db.open(t, true, nil)
	res := mustGet(t, s, "app||doc")
	_, etag, _ := db.rawV2(t, "app||doc")
	if !bytes.Equal(res.Data, raw) || res.ETag != etag {
		t.Errorf("doc row: Data %q ETag %q, want %q and %q", res.Data, res.ETag, raw, etag)
	}
	res = mustGet(t, s, "app||ttl")
	if got, want := res.Metadata[state.MetaTTLExpireTime], exp.UTC().Format(time.RFC3339); got != want {
		t.Errorf("ttl row: ttlExpireTime %q, want %q", got, want)
	}
	if res := mustGet(t, s, "app||expired"); res.Found {
		t.Errorf("expired row: Found, want not found")
	}

	// Writes keep bytes as they are and give the row a fresh uuid ETag.
	mustSet(t, s, state.SetRequest{Key: "app||doc", Value: []byte(" [1] "), ETag: &etag})
	value, newETag, _ := db.rawV2(t, "app||doc")
	if string(value) != " [1] " || newETag == etag {
		t.Errorf("after Set: value %q etag %q (old %q)", value, newETag, etag)
	}
	err := s.Set(t.Context(), state.SetRequest{Key: "app||doc", Value: []byte("1"), ETag: &etag})
	expectETagErr(t, "Set with the replaced etag", err, state.ETagMismatch)
	err = s.Set(t.Context(), state.SetRequest{Key: "app||doc", Value: []byte("1"), ETag: ptr("12345")})
	expectETagErr(t, "Set with a non-uuid etag", err, state.ETagInvalid)

	if got := db.metaValue(t, "migrations-state-v2-"+db.prefix); got != "1" {
		t.Errorf("migration level %q, want 1 unchanged", got)
	}
}

// TestFreshSchema checks that tables created here have Dapr's columns and
// migration levels, so a Dapr sidecar started later finds nothing to do.
func TestFreshSchema(t *testing.T) {
	cases := []struct {
		name     string
		v2       bool
		cols     map[string]string
		levelKey func(*testDB) string
		level    string
	}{
		{"v1", false, map[string]string{
			"key": "text", "value": "jsonb", "isbinary": "boolean", "insertdate": "timestamp with time zone",
			"updatedate": "timestamp with time zone", "expiredate": "timestamp with time zone",
		}, func(*testDB) string { return "migrations" }, "2"},
		{"v2", true, map[string]string{
			"key": "text", "value": "bytea", "etag": "uuid", "created_at": "timestamp with time zone",
			"updated_at": "timestamp with time zone", "expires_at": "timestamp with time zone",
		}, func(db *testDB) string { return "migrations-state-v2-" + db.prefix }, "1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := newTestDB(t)
			db.open(t, c.v2, nil)
			rows, err := db.admin.Query(t.Context(),
				"SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1", db.table)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for rows.Next() {
				var n, typ string
				if err := rows.Scan(&n, &typ); err != nil {
					t.Fatal(err)
				}
				got[n] = typ
			}
			if !reflect.DeepEqual(got, c.cols) {
				t.Errorf("columns %v, want %v", got, c.cols)
			}
			if lv := db.metaValue(t, c.levelKey(db)); lv != c.level {
				t.Errorf("migration level %q, want %q", lv, c.level)
			}
			// A second Init on the same tables is a no-op.
			db.open(t, c.v2, nil)
		})
	}
}

// TestV1TableBeforeDaprMigration2 upgrades a table made by an old Dapr
// (no expiredate column yet) the way Dapr's second migration does.
func TestV1TableBeforeDaprMigration2(t *testing.T) {
	db := newTestDB(t)
	db.exec(t, `CREATE TABLE "`+db.table+`" (key text NOT NULL PRIMARY KEY, value jsonb NOT NULL, isbinary boolean NOT NULL,
		insertdate TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(), updatedate TIMESTAMP WITH TIME ZONE NULL)`)
	for _, q := range daprMetaTable(db, "migrations", "1") {
		db.exec(t, q)
	}
	db.exec(t, `INSERT INTO "`+db.table+`" (key, value, isbinary) VALUES ('old', '"v"', false)`)
	s := db.open(t, false, nil)
	if got := db.metaValue(t, "migrations"); got != "2" {
		t.Errorf("migration level %q, want 2", got)
	}
	if res := mustGet(t, s, "old"); string(res.Data) != `"v"` {
		t.Errorf("old row: %q", res.Data)
	}
	mustSet(t, s, state.SetRequest{Key: "new", Value: []byte(`1`), Metadata: map[string]string{"ttlInSeconds": "60"}})
	if _, _, _, exp := db.rawV1(t, "new"); exp == nil {
		t.Error("expiredate not written")
	}
}

func TestSchemaQualifiedNames(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		db := newTestDB(t)
		schema := db.id + "_s"
		db.exec(t, "CREATE SCHEMA "+schema)
		t.Cleanup(func() {
			if _, err := db.admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
				t.Errorf("drop schema: %v", err)
			}
		})
		// Mixed case is folded to lower case, as unquoted SQL names are.
		extra := map[string]string{"tableName": schema + ".Items", "tablePrefix": schema + ".P_", "metadataTableName": schema + ".Meta"}
		s := db.open(t, v2, extra)
		mustSet(t, s, state.SetRequest{Key: "k", Value: []byte(`"v"`)})
		want := schema + ".items"
		if v2 {
			want = schema + ".p_state"
		}
		var n int
		if err := db.admin.QueryRow(t.Context(), "SELECT count(*) FROM "+want+" WHERE key = 'k'").Scan(&n); err != nil || n != 1 {
			t.Errorf("v2=%v: row in %s: n=%d err=%v", v2, want, n, err)
		}
	}
}
