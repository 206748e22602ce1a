package mysql

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/testutil"
)

const (
	serverAddr = "127.0.0.1:3306"
	serverDSN  = "root@tcp(127.0.0.1:3306)/"
)

// setup creates a database unique to the test (dropped afterwards) and a
// binding connected to it.
func setup(t *testing.T) (bindings.Output, string) {
	t.Helper()
	testutil.RequireService(t, "MariaDB/MySQL", serverAddr)
	ctx := context.Background()
	admin := New()
	if err := admin.Init(ctx, bindings.Metadata{Properties: map[string]string{"url": serverDSN}}); err != nil {
		t.Fatal(err)
	}
	schema := "bt_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	if _, err := admin.Invoke(ctx, exec("CREATE DATABASE "+schema, "")); err != nil {
		t.Fatal(err)
	}
	out, err := bindings.Outputs.Create("bindings.mysql", "v1")
	if err != nil {
		t.Fatal(err)
	}
	props := map[string]string{"url": serverDSN + schema, "maxOpenConns": "4", "maxIdleConns": "2", "connMaxLifetime": "1m", "connMaxIdleTime": "30s"}
	if err := out.Init(ctx, bindings.Metadata{Name: "my", Properties: props}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = out.Close()
		_, _ = admin.Invoke(context.Background(), exec("DROP DATABASE IF EXISTS "+schema, ""))
		_ = admin.Close()
	})
	return out, schema
}

func exec(sql, params string) *bindings.InvokeRequest {
	md := map[string]string{"sql": sql}
	if params != "" {
		md["params"] = params
	}
	return &bindings.InvokeRequest{Operation: "exec", Metadata: md}
}

func TestExecAndQuery(t *testing.T) {
	out, _ := setup(t)
	ctx := context.Background()
	_, err := out.Invoke(ctx, exec(`CREATE TABLE items (id INT NOT NULL PRIMARY KEY, name VARCHAR(50), price DECIMAL(10,2),
		ts DATETIME, score DOUBLE, blob_col VARBINARY(10), big BIGINT UNSIGNED NOT NULL DEFAULT 0)`, ""))
	if err != nil {
		t.Fatal(err)
	}
	res, err := out.Invoke(ctx, exec("INSERT INTO items (id, name, price, ts, score, blob_col, big) VALUES (?, ?, ?, ?, ?, ?, ?), (2, NULL, NULL, NULL, NULL, NULL, 5)",
		`[1, "apple", 1.25, "2020-09-24 11:45:05", 0.5, "hi", 4294967296]`))
	if err != nil {
		t.Fatal(err)
	}
	md := res.Metadata
	if md["operation"] != "exec" || md["rows-affected"] != "2" || md["start-time"] == "" || md["end-time"] == "" || md["duration"] == "" {
		t.Fatalf("exec metadata %v", md)
	}
	res, err = out.Invoke(ctx, &bindings.InvokeRequest{Operation: "query", Metadata: map[string]string{"sql": "SELECT * FROM items WHERE id >= ? ORDER BY id", "params": "[1]"}})
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(res.Data, &rows); err != nil {
		t.Fatalf("rows %s: %v", res.Data, err)
	}
	want := []map[string]any{
		{"id": 1.0, "name": "apple", "price": "1.25", "ts": "2020-09-24T11:45:05Z", "score": 0.5, "blob_col": "aGk=", "big": 4294967296.0},
		{"id": 2.0, "big": 5.0},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows\n got %v\nwant %v", rows, want)
	}
	if res.Metadata["operation"] != "query" || res.Metadata["sql"] == "" {
		t.Fatalf("query metadata %v", res.Metadata)
	}
	res, err = out.Invoke(ctx, &bindings.InvokeRequest{Operation: "query", Metadata: map[string]string{"sql": "SELECT NULL AS n, 7 AS seven"}})
	if err != nil || string(res.Data) != `[{"seven":7}]` {
		t.Fatalf("constant query = %s, %v", res.Data, err)
	}
	res, err = out.Invoke(ctx, &bindings.InvokeRequest{Operation: "query", Metadata: map[string]string{"sql": "SELECT id FROM items WHERE id > 100"}})
	if err != nil || string(res.Data) != "null" {
		t.Fatalf("empty query = %s, %v", res.Data, err)
	}
}

func TestErrorsAndClose(t *testing.T) {
	out, _ := setup(t)
	ctx := context.Background()
	for _, req := range []*bindings.InvokeRequest{
		{Operation: "query", Metadata: map[string]string{}},
		exec("SELECT ?", `"not an array"`),
		exec("SELECT * FROM no_such_table", ""),
		{Operation: "merge", Metadata: map[string]string{"sql": "SELECT 1"}},
	} {
		if _, err := out.Invoke(ctx, req); err == nil {
			t.Errorf("%s %v succeeded", req.Operation, req.Metadata)
		}
	}
	if res, err := out.Invoke(ctx, &bindings.InvokeRequest{Operation: "close"}); err != nil || res != nil {
		t.Fatalf("close = %v, %v", res, err)
	}
	if _, err := out.Invoke(ctx, exec("SELECT 1", "")); err == nil || err.Error() != "component is closed" {
		t.Fatalf("after close: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, props := range []map[string]string{
		{},
		{"url": "not a dsn"},
		{"url": serverDSN, "pemPath": "/does/not/exist"},
		{"url": serverDSN, "maxOpenConns": "many"},
		{"url": serverDSN, "connMaxLifetime": "forever"},
	} {
		if _, err := open(props); err == nil {
			t.Errorf("open(%v) succeeded", props)
		}
	}
	cfg, err := driverConfig("u:p@tcp(h:3306)/db?charset=utf8mb4", nil)
	if err != nil || cfg.DBName != "db" || !cfg.ParseTime {
		t.Fatalf("driverConfig = %+v, %v", cfg, err)
	}
}
