package postgres

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/testutil"
)

const (
	pgAddr = "127.0.0.1:5432"
	pgConn = "host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=disable"
)

// setup opens a binding (registered under both type names) and a table
// unique to the test, dropped afterwards.
func setup(t *testing.T, typeName string) (bindings.Output, string) {
	t.Helper()
	testutil.RequireService(t, "PostgreSQL", pgAddr)
	out, err := bindings.Outputs.Create(typeName, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Init(context.Background(), bindings.Metadata{Name: "pg", Properties: map[string]string{"connectionString": pgConn, "timeout": "5s"}}); err != nil {
		t.Fatal(err)
	}
	table := "bt_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	t.Cleanup(func() {
		// A fresh binding: the test may have closed its own.
		clean := New()
		if err := clean.Init(context.Background(), bindings.Metadata{Properties: map[string]string{"connectionString": pgConn}}); err == nil {
			_, _ = clean.Invoke(context.Background(), execReq("DROP TABLE IF EXISTS "+table, ""))
			_ = clean.Close()
		}
		_ = out.Close()
	})
	_, err = out.Invoke(context.Background(), execReq("CREATE TABLE "+table+" (id integer PRIMARY KEY, name text, price numeric(10,2), ts timestamptz, doc jsonb, note text)", ""))
	if err != nil {
		t.Fatal(err)
	}
	return out, table
}

func execReq(sql, params string) *bindings.InvokeRequest {
	md := map[string]string{"sql": sql}
	if params != "" {
		md["params"] = params
	}
	return &bindings.InvokeRequest{Operation: "exec", Metadata: md}
}

func TestExecAndQuery(t *testing.T) {
	for _, typeName := range []string{"bindings.postgresql", "bindings.postgres"} {
		t.Run(typeName, func(t *testing.T) {
			out, table := setup(t, typeName)
			ctx := context.Background()
			res, err := out.Invoke(ctx, execReq("INSERT INTO "+table+" (id, name, price, ts, doc) VALUES ($1, $2, $3, $4, $5), (2, 'b', 2.5, '2024-01-02T03:04:05Z', NULL)",
				`[1, "a", 9.99, "2020-09-24T11:45:05Z", {"k": [1, 2]}]`))
			if err != nil {
				t.Fatal(err)
			}
			md := res.Metadata
			if md["operation"] != "exec" || md["rows-affected"] != "2" || !strings.HasPrefix(md["sql"], "INSERT INTO "+table) {
				t.Fatalf("exec metadata %v", md)
			}
			checkTimes(t, md)

			res, err = out.Invoke(ctx, &bindings.InvokeRequest{Operation: "query", Metadata: map[string]string{"sql": "SELECT id, name, price, ts, doc, note FROM " + table + " WHERE id >= $1 ORDER BY id", "params": "[1]"}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Metadata["operation"] != "query" || res.Metadata["rows-affected"] != "" {
				t.Fatalf("query metadata %v", res.Metadata)
			}
			checkTimes(t, res.Metadata)
			var rows [][]any
			if err := json.Unmarshal(res.Data, &rows); err != nil {
				t.Fatalf("rows %s: %v", res.Data, err)
			}
			want := `[[1,"a",9.99,"2020-09-24T11:45:05Z",{"k":[1,2]},null],[2,"b",2.5,"2024-01-02T03:04:05Z",null,null]]`
			if got := normalise(t, res.Data); got != want {
				t.Fatalf("rows\n got %s\nwant %s", got, want)
			}

			res, err = out.Invoke(ctx, &bindings.InvokeRequest{Operation: "query", Metadata: map[string]string{"sql": "SELECT id FROM " + table + " WHERE id > 100"}})
			if err != nil || string(res.Data) != "[]" {
				t.Fatalf("empty query = %s, %v", res.Data, err)
			}
		})
	}
}

// normalise re-encodes times in UTC so the comparison does not depend on
// the server's time zone.
func normalise(t *testing.T, data []byte) string {
	t.Helper()
	var rows [][]any
	if err := json.Unmarshal(data, &rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if s, ok := r[3].(string); ok {
			ts, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				t.Fatal(err)
			}
			r[3] = ts.UTC().Format(time.RFC3339)
		}
	}
	b, _ := json.Marshal(rows)
	return string(b)
}

func checkTimes(t *testing.T, md map[string]string) {
	t.Helper()
	start, err1 := time.Parse(time.RFC3339Nano, md["start-time"])
	end, err2 := time.Parse(time.RFC3339Nano, md["end-time"])
	d, err3 := time.ParseDuration(md["duration"])
	if err1 != nil || err2 != nil || err3 != nil || end.Before(start) || d < 0 || !strings.HasSuffix(md["start-time"], "Z") {
		t.Fatalf("times %v", md)
	}
}

func TestErrorsAndClose(t *testing.T) {
	out, table := setup(t, "bindings.postgresql")
	ctx := context.Background()
	for _, req := range []*bindings.InvokeRequest{
		{Operation: "exec", Metadata: map[string]string{}},
		execReq("INSERT INTO "+table+" (id) VALUES ($1)", `{"not":"an array"}`),
		execReq("INSERT INTO "+table+" (id) VALUES ($1)", `["one"]`),
		execReq("SELECT * FROM no_such_table_"+uuid.NewString()[:8], ""),
		{Operation: "drop", Metadata: map[string]string{"sql": "SELECT 1"}},
	} {
		if _, err := out.Invoke(ctx, req); err == nil {
			t.Errorf("%s %v succeeded", req.Operation, req.Metadata)
		}
	}
	if res, err := out.Invoke(ctx, &bindings.InvokeRequest{Operation: "close"}); err != nil || res != nil {
		t.Fatalf("close = %v, %v", res, err)
	}
	if _, err := out.Invoke(ctx, execReq("SELECT 1", "")); err == nil || err.Error() != "component is closed" {
		t.Fatalf("exec after close: %v", err)
	}
	if _, err := out.Invoke(ctx, &bindings.InvokeRequest{Operation: "close"}); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		props   map[string]string
		wantErr bool
	}{
		{"connection string", map[string]string{"connectionString": pgConn}, false},
		{"legacy url", map[string]string{"url": "postgres://postgres@127.0.0.1:5432/postgres"}, false},
		{"separate keys", map[string]string{"host": "127.0.0.1", "port": "5432", "user": "postgres", "database": "postgres", "maxConns": "3", "queryExecMode": "simple_protocol", "connectionMaxIdleTime": "1m"}, false},
		{"missing", map[string]string{}, true},
		{"bad timeout", map[string]string{"connectionString": pgConn, "timeout": "10ms"}, true},
		{"bad maxConns", map[string]string{"connectionString": pgConn, "maxConns": "x"}, true},
		{"bad exec mode", map[string]string{"connectionString": pgConn, "queryExecMode": "fast"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc, _, err := poolConfig(tt.props)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err == nil && pc.ConnConfig.Host != "127.0.0.1" {
				t.Fatalf("host %q", pc.ConnConfig.Host)
			}
		})
	}
}
