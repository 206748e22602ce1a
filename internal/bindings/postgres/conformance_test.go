package postgres

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/bindings/bindingstest"
	"github.com/outrigger/outrigger/internal/testutil"
)

// TestConformance runs on a table unique to the run: each caller n
// inserts its row and reads it back; close ends the instance, so it runs
// last and alone.
func TestConformance(t *testing.T) {
	testutil.RequireService(t, "PostgreSQL", pgAddr)
	table := "bt_conf_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	admin := New()
	ctx := context.Background()
	if err := admin.Init(ctx, bindings.Metadata{Properties: map[string]string{"connectionString": pgConn}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Invoke(context.Background(), execReq("DROP TABLE IF EXISTS "+table, ""))
		_ = admin.Close()
	})
	if _, err := admin.Invoke(ctx, execReq("CREATE TABLE "+table+" (id integer PRIMARY KEY, name text)", "")); err != nil {
		t.Fatal(err)
	}
	id := func(n int) string { return "[" + strconv.Itoa(n) + `, "row ` + strconv.Itoa(n) + `"]` }
	bindingstest.Run(t, bindingstest.Config{
		Metadata: func(*testing.T) bindings.Metadata {
			return bindings.Metadata{Name: "pg", Properties: map[string]string{"connectionString": pgConn, "timeout": "5s"}}
		},
		NewOutput: func() bindings.Output { return New() },
		Operations: []bindingstest.Operation{
			{
				Name: bindings.OpExec,
				Request: func(n int) *bindings.InvokeRequest {
					return execReq("INSERT INTO "+table+" (id, name) VALUES ($1, $2)", id(n))
				},
				WantMetadata: []string{"operation", "sql", "start-time", "end-time", "duration", "rows-affected"},
				Check: func(t *testing.T, _ *bindings.InvokeRequest, res *bindings.InvokeResponse) {
					if res.Metadata["rows-affected"] != "1" {
						t.Errorf("rows-affected = %q", res.Metadata["rows-affected"])
					}
				},
			},
			{
				Name: bindings.OpQuery,
				Request: func(n int) *bindings.InvokeRequest {
					return &bindings.InvokeRequest{Metadata: map[string]string{"sql": "SELECT id, name FROM " + table + " WHERE id = $1", "params": "[" + strconv.Itoa(n) + "]"}}
				},
				WantData:     true,
				WantMetadata: []string{"operation", "sql", "start-time", "end-time", "duration"},
				Check: func(t *testing.T, _ *bindings.InvokeRequest, res *bindings.InvokeResponse) {
					if string(res.Data) != `[[0,"row 0"]]` {
						t.Errorf("query = %s", res.Data)
					}
				},
			},
			{
				Name:    bindings.OpClose,
				Request: func(int) *bindings.InvokeRequest { return &bindings.InvokeRequest{} },
				Serial:  true,
			},
		},
	})
}
