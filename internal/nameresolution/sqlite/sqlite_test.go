package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/nameresolution"
)

// newResolver starts a resolver for app on a shared database file.
func newResolver(t *testing.T, dbPath, app, ns string, port int, extra map[string]any) *Resolver {
	t.Helper()
	cfg := map[string]any{"connectionString": dbPath, "updateInterval": "2s", "cleanupInterval": "0"}
	for k, v := range extra {
		cfg[k] = v
	}
	created, err := nameresolution.Create("sqlite", "v1")
	if err != nil {
		t.Fatal(err)
	}
	r := created.(*Resolver)
	err = r.Init(context.Background(), nameresolution.Metadata{
		Configuration: cfg,
		Instance:      nameresolution.Instance{AppID: app, Namespace: ns, HostAddress: "127.0.0.1", DaprInternalPort: port},
	})
	if err != nil {
		t.Fatalf("Init %s:%d: %v", app, port, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(2000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func exec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// resolveSet resolves n times and returns the distinct answers, sorted.
func resolveSet(t *testing.T, r nameresolution.Resolver, req nameresolution.Request, n int) []string {
	t.Helper()
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		addr, err := r.Resolve(context.Background(), req)
		if err != nil {
			t.Fatalf("Resolve(%+v): %v", req, err)
		}
		seen[addr] = true
	}
	var out []string
	for a := range seen {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

func TestResolveAcrossSidecars(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nr.db")
	caller := newResolver(t, path, "caller", "", 4001, nil)
	newResolver(t, path, "orders", "", 4002, nil)
	newResolver(t, path, "orders", "", 4003, nil)

	// Round-robin: successive calls alternate between the two instances.
	var got []string
	for i := 0; i < 4; i++ {
		addr, err := caller.Resolve(context.Background(), nameresolution.Request{ID: "orders"})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, addr)
	}
	if got[0] == got[1] || got[0] != got[2] || got[1] != got[3] {
		t.Fatalf("not round-robin: %v", got)
	}
	if all := resolveSet(t, caller, nameresolution.Request{ID: "orders"}, 4); fmt.Sprint(all) != "[127.0.0.1:4002 127.0.0.1:4003]" {
		t.Fatalf("instances = %v", all)
	}
	// A sidecar resolves itself too.
	if self := resolveSet(t, caller, nameresolution.Request{ID: "caller"}, 1); fmt.Sprint(self) != "[127.0.0.1:4001]" {
		t.Fatalf("self = %v", self)
	}
}

func TestResolveUnknown(t *testing.T) {
	r := newResolver(t, filepath.Join(t.TempDir(), "nr.db"), "a", "", 4001, nil)
	_, err := r.Resolve(context.Background(), nameresolution.Request{ID: "ghost"})
	want := `no live instances of app id "ghost" found in the SQLite name resolution table "hosts" (is its sidecar running with the same connectionString?)`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v\nwant %s", err, want)
	}
	if _, err := r.Resolve(context.Background(), nameresolution.Request{}); err == nil || !strings.Contains(err.Error(), "empty app id") {
		t.Fatalf("empty id error = %v", err)
	}
}

func TestCacheAvoidsQueries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nr.db")
	r := newResolver(t, path, "a", "", 4001, nil)
	db := openDB(t, path)
	if _, err := r.Resolve(context.Background(), nameresolution.Request{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	// With the rows gone, a warm cache still answers: no query per request.
	exec(t, db, `DELETE FROM hosts`)
	if addr, err := r.Resolve(context.Background(), nameresolution.Request{ID: "a"}); err != nil || addr != "127.0.0.1:4001" {
		t.Fatalf("cached Resolve = %q, %v", addr, err)
	}
	r.cache.Delete("/a")
	if _, err := r.Resolve(context.Background(), nameresolution.Request{ID: "a"}); err == nil {
		t.Fatal("Resolve after cache expiry found a deleted row")
	}
}

func TestLiveness(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nr.db")
	r := newResolver(t, path, "me", "", 4001, nil)
	db := openDB(t, path)
	// updateInterval 2s: rows older than 6s are stale.
	rows := []struct {
		id      string
		ageSecs int
		live    bool
	}{
		{"fresh", 0, true},
		{"recent", 5, true},
		{"edge", 6, false},
		{"old", 100, false},
	}
	for i, row := range rows {
		exec(t, db, `INSERT INTO hosts (registration_id, address, app_id, namespace, last_update)
VALUES (?, ?, 'svc', '', unixepoch(CURRENT_TIMESTAMP) - ?)`, row.id, fmt.Sprintf("10.0.0.%d:1", i+1), row.ageSecs)
	}
	got := resolveSet(t, r, nameresolution.Request{ID: "svc"}, 6)
	var want []string
	for i, row := range rows {
		if row.live {
			want = append(want, fmt.Sprintf("10.0.0.%d:1", i+1))
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("live instances = %v, want %v", got, want)
	}
}

func TestNamespaces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nr.db")
	r := newResolver(t, path, "me", "ns1", 4001, nil)
	db := openDB(t, path)
	for i, ns := range []string{"ns1", "", "ns2"} {
		exec(t, db, `INSERT INTO hosts (registration_id, address, app_id, namespace, last_update)
VALUES (?, ?, 'svc', ?, unixepoch(CURRENT_TIMESTAMP))`, fmt.Sprint("r", i), fmt.Sprintf("10.0.0.%d:1", i+1), ns)
	}
	tests := []struct {
		ns   string
		want string
	}{
		{"ns1", "[10.0.0.1:1 10.0.0.2:1]"}, // its own namespace and Dapr's namespace-less rows
		{"ns2", "[10.0.0.2:1 10.0.0.3:1]"},
		{"", "[10.0.0.1:1 10.0.0.2:1 10.0.0.3:1]"}, // no namespace: all
		{"other", "[10.0.0.2:1]"},
	}
	for _, tt := range tests {
		if got := resolveSet(t, r, nameresolution.Request{ID: "svc", Namespace: tt.ns}, 6); fmt.Sprint(got) != tt.want {
			t.Errorf("namespace %q: %v, want %s", tt.ns, got, tt.want)
		}
	}
	var stored string
	if err := db.QueryRow(`SELECT namespace FROM hosts WHERE app_id = 'me'`).Scan(&stored); err != nil || stored != "ns1" {
		t.Fatalf("own row namespace = %q, %v", stored, err)
	}
}

func TestHeartbeatAndClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nr.db")
	r := newResolver(t, path, "me", "", 4001, nil)
	db := openDB(t, path)
	age := func() int {
		t.Helper()
		var a int
		if err := db.QueryRow(`SELECT unixepoch(CURRENT_TIMESTAMP) - last_update FROM hosts WHERE address = '127.0.0.1:4001'`).Scan(&a); err != nil {
			t.Fatalf("read own row: %v", err)
		}
		return a
	}
	exec(t, db, `UPDATE hosts SET last_update = last_update - 50`)
	if err := r.heartbeat(); err != nil {
		t.Fatal(err)
	}
	if a := age(); a > 1 {
		t.Fatalf("row age after heartbeat = %ds", a)
	}
	// A lost registration is written again.
	exec(t, db, `DELETE FROM hosts`)
	if err := r.heartbeat(); err != nil {
		t.Fatal(err)
	}
	if a := age(); a > 1 {
		t.Fatalf("row age after re-registration = %ds", a)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM hosts`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows after Close = %d, %v", n, err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := r.Resolve(context.Background(), nameresolution.Request{ID: "me"}); err == nil {
		t.Fatal("Resolve after Close succeeded")
	}
}

func TestHeartbeatLoopKeepsRowFresh(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nr.db")
	db := openDB(t, path)
	newResolver(t, path, "me", "", 4001, nil)
	exec(t, db, `UPDATE hosts SET last_update = last_update - 50`)
	// updateInterval 2s: the loop beats every second.
	deadline := time.Now().Add(3 * time.Second)
	for {
		var a int
		if err := db.QueryRow(`SELECT unixepoch(CURRENT_TIMESTAMP) - last_update FROM hosts`).Scan(&a); err != nil {
			t.Fatal(err)
		}
		if a <= 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("row still %ds old", a)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestCleanup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nr.db")
	r := newResolver(t, path, "me", "", 4001, map[string]any{"cleanupInterval": "10s"})
	db := openDB(t, path)
	exec(t, db, `INSERT INTO hosts VALUES ('stale', '10.0.0.1:1', 'x', '', unixepoch(CURRENT_TIMESTAMP) - 100)`)
	exec(t, db, `INSERT INTO hosts VALUES ('live', '10.0.0.2:1', 'x', '', unixepoch(CURRENT_TIMESTAMP) - 2)`)
	n, err := r.cleanup()
	if err != nil || n != 1 {
		t.Fatalf("cleanup = %d, %v; want 1 row", n, err)
	}
	var ids []string
	rows, err := db.Query(`SELECT registration_id FROM hosts WHERE app_id = 'x'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	if fmt.Sprint(ids) != "[live]" {
		t.Fatalf("rows after cleanup = %v", ids)
	}
	// Another sidecar (or this one) just cleaned up: the next round skips.
	exec(t, db, `INSERT INTO hosts VALUES ('stale2', '10.0.0.3:1', 'x', '', 0)`)
	if n, err := r.cleanup(); err != nil || n != 0 {
		t.Fatalf("second cleanup = %d, %v; want skipped", n, err)
	}
}

// TestDaprLayout checks that the tables are Dapr's and that a file prepared
// by a Dapr sidecar is used as is.
func TestDaprLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nr.db")
	db := openDB(t, path)
	// What Dapr's migration leaves behind, plus one Dapr sidecar's row.
	exec(t, db, `CREATE TABLE metadata (key text NOT NULL PRIMARY KEY, value text NOT NULL)`)
	exec(t, db, `CREATE TABLE hosts (registration_id TEXT NOT NULL PRIMARY KEY, address TEXT NOT NULL, app_id TEXT NOT NULL, namespace TEXT NOT NULL, last_update INTEGER NOT NULL)`)
	exec(t, db, `CREATE UNIQUE INDEX hosts_address_idx ON hosts (address)`)
	exec(t, db, `INSERT INTO metadata VALUES ('nr-migrations', '1')`)
	exec(t, db, `INSERT INTO hosts VALUES ('dapr-1', '192.168.1.9:50002', 'daprapp', '', unixepoch(CURRENT_TIMESTAMP))`)

	r := newResolver(t, path, "ours", "default", 4001, nil)
	if got := resolveSet(t, r, nameresolution.Request{ID: "daprapp", Namespace: "default"}, 2); fmt.Sprint(got) != "[192.168.1.9:50002]" {
		t.Fatalf("Dapr row resolved to %v", got)
	}

	// On a fresh file we create the same layout.
	fresh := filepath.Join(t.TempDir(), "fresh.db")
	newResolver(t, fresh, "ours", "", 4001, nil)
	fdb := openDB(t, fresh)
	var level string
	if err := fdb.QueryRow(`SELECT value FROM metadata WHERE key = 'nr-migrations'`).Scan(&level); err != nil || level != "1" {
		t.Fatalf("migration level = %q, %v", level, err)
	}
	rows, err := fdb.Query(`SELECT name, type, "notnull", pk FROM pragma_table_info('hosts') ORDER BY cid`)
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for rows.Next() {
		var name, typ string
		var notNull, pk int
		rows.Scan(&name, &typ, &notNull, &pk)
		cols = append(cols, fmt.Sprintf("%s %s %d %d", name, typ, notNull, pk))
	}
	rows.Close()
	want := "registration_id TEXT 1 1,address TEXT 1 0,app_id TEXT 1 0,namespace TEXT 1 0,last_update INTEGER 1 0"
	if strings.Join(cols, ",") != want {
		t.Fatalf("hosts columns = %v\nwant %s", cols, want)
	}
}

func TestConcurrentStartup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nr.db")
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func(i int) {
			r := New()
			err := r.Init(context.Background(), nameresolution.Metadata{
				Configuration: map[string]any{"connectionString": path, "updateInterval": "2s", "cleanupInterval": "0"},
				Instance:      nameresolution.Instance{AppID: "app", HostAddress: "127.0.0.1", DaprInternalPort: 5000 + i},
			})
			if err == nil {
				t.Cleanup(func() { r.Close() })
			}
			errs <- err
		}(i)
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent Init: %v", err)
		}
	}
	r := newResolver(t, path, "caller", "", 4999, nil)
	if got := resolveSet(t, r, nameresolution.Request{ID: "app"}, 8); len(got) != 4 {
		t.Fatalf("instances = %v, want 4", got)
	}
}

func TestInitErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nr.db")
	good := nameresolution.Instance{AppID: "a", HostAddress: "127.0.0.1", DaprInternalPort: 1}
	tests := []struct {
		name    string
		cfg     map[string]any
		inst    nameresolution.Instance
		wantErr string
	}{
		{"no config", nil, good, "connectionString is required"},
		{"no app id", map[string]any{"connectionString": path}, nameresolution.Instance{HostAddress: "h", DaprInternalPort: 1}, "no app id"},
		{"no host", map[string]any{"connectionString": path}, nameresolution.Instance{AppID: "a", DaprInternalPort: 1}, "no host address"},
		{"no port", map[string]any{"connectionString": path}, nameresolution.Instance{AppID: "a", HostAddress: "h"}, "no internal gRPC port"},
		{"unopenable file", map[string]any{"connectionString": filepath.Join(t.TempDir(), "missing", "dir", "nr.db")}, good, "sqlite name resolution ("},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New()
			defer r.Close()
			err := r.Init(context.Background(), nameresolution.Metadata{Configuration: tt.cfg, Instance: tt.inst})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Init error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestMemoryDatabase(t *testing.T) {
	r := newResolver(t, ":memory:", "solo", "", 4001, nil)
	if got := resolveSet(t, r, nameresolution.Request{ID: "solo"}, 2); fmt.Sprint(got) != "[127.0.0.1:4001]" {
		t.Fatalf("in-memory resolve = %v", got)
	}
}
