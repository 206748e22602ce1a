package mysql

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

// TestConformance runs on a database unique to the run: each caller n
// inserts its row and reads it back; close ends the instance, so it runs
// last and alone.
func TestConformance(t *testing.T) {
	testutil.RequireService(t, "MariaDB/MySQL", serverAddr)
	ctx := context.Background()
	admin := New()
	if err := admin.Init(ctx, bindings.Metadata{Properties: map[string]string{"url": serverDSN}}); err != nil {
		t.Fatal(err)
	}
	schema := "bt_conf_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	t.Cleanup(func() {
		_, _ = admin.Invoke(context.Background(), exec("DROP DATABASE IF EXISTS "+schema, ""))
		_ = admin.Close()
	})
	if _, err := admin.Invoke(ctx, exec("CREATE DATABASE "+schema, "")); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Invoke(ctx, exec("CREATE TABLE "+schema+".items (id INT NOT NULL PRIMARY KEY, name VARCHAR(50))", "")); err != nil {
		t.Fatal(err)
	}
	row := func(n int) string { return "[" + strconv.Itoa(n) + `, "row ` + strconv.Itoa(n) + `"]` }
	bindingstest.Run(t, bindingstest.Config{
		Metadata: func(*testing.T) bindings.Metadata {
			return bindings.Metadata{Name: "my", Properties: map[string]string{"url": serverDSN + schema}}
		},
		NewOutput: func() bindings.Output { return New() },
		Operations: []bindingstest.Operation{
			{
				Name:         bindings.OpExec,
				Request:      func(n int) *bindings.InvokeRequest { return exec("INSERT INTO items (id, name) VALUES (?, ?)", row(n)) },
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
					return &bindings.InvokeRequest{Metadata: map[string]string{"sql": "SELECT id, name FROM items WHERE id = ?", "params": "[" + strconv.Itoa(n) + "]"}}
				},
				WantData:     true,
				WantMetadata: []string{"operation", "sql", "start-time", "end-time", "duration"},
				Check: func(t *testing.T, _ *bindings.InvokeRequest, res *bindings.InvokeResponse) {
					if string(res.Data) != `[{"id":0,"name":"row 0"}]` {
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
