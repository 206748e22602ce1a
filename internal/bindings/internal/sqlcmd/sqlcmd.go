// Package sqlcmd runs the operations the SQL bindings share (exec, query,
// close) and builds their response metadata, so the PostgreSQL and MySQL
// bindings only differ in how they talk to the database.
package sqlcmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/outrigger/outrigger/internal/bindings"
)

// DB is one database connection pool.
type DB interface {
	// Exec runs a statement and returns the number of rows affected.
	Exec(ctx context.Context, sql string, args []any) (int64, error)
	// Query runs a query and returns the rows JSON-encoded.
	Query(ctx context.Context, sql string, args []any) ([]byte, error)
	Close() error
}

// Operations are the operations of every SQL binding.
func Operations() []string {
	return []string{bindings.OpExec, bindings.OpQuery, bindings.OpClose}
}

// Binding runs the operations on a DB and remembers whether it was closed.
type Binding struct {
	DB     DB
	closed atomic.Bool
}

// Close closes the pool once; later calls do nothing.
func (b *Binding) Close() error {
	if !b.closed.CompareAndSwap(false, true) || b.DB == nil {
		return nil
	}
	return b.DB.Close()
}

// Invoke runs one request: `sql` and optional `params` (a JSON array of
// positional arguments) from the metadata. The response metadata says
// what ran and when: operation, sql, start-time and end-time (RFC 3339,
// UTC), duration, and rows-affected for exec.
func (b *Binding) Invoke(ctx context.Context, req *bindings.InvokeRequest) (*bindings.InvokeResponse, error) {
	if req.Operation == bindings.OpClose {
		// Closing twice is fine, as in Dapr.
		return nil, b.Close()
	}
	if b.closed.Load() || b.DB == nil {
		return nil, errors.New("component is closed")
	}
	sql := req.Metadata["sql"]
	if sql == "" {
		return nil, errors.New("required metadata not set: sql")
	}
	args, err := params(req.Metadata["params"])
	if err != nil {
		return nil, err
	}
	start := time.Now().UTC()
	res := &bindings.InvokeResponse{Metadata: map[string]string{
		"operation":  req.Operation,
		"sql":        sql,
		"start-time": start.Format(time.RFC3339Nano),
	}}
	switch req.Operation {
	case bindings.OpExec:
		n, err := b.DB.Exec(ctx, sql, args)
		if err != nil {
			return nil, fmt.Errorf("error executing query: %w", err)
		}
		res.Metadata["rows-affected"] = strconv.FormatInt(n, 10)
	case bindings.OpQuery:
		if res.Data, err = b.DB.Query(ctx, sql, args); err != nil {
			return nil, fmt.Errorf("error executing query: %w", err)
		}
	default:
		return nil, fmt.Errorf("invalid operation type: %s. Expected %s, %s, or %s", req.Operation, bindings.OpExec, bindings.OpQuery, bindings.OpClose)
	}
	end := time.Now().UTC()
	res.Metadata["end-time"] = end.Format(time.RFC3339Nano)
	res.Metadata["duration"] = end.Sub(start).String()
	return res, nil
}

// params decodes the `params` metadata. Numbers become float64, as JSON
// numbers do in Dapr, so the drivers convert them to the column types.
func params(v string) ([]any, error) {
	if v == "" {
		return nil, nil
	}
	var args []any
	if err := json.Unmarshal([]byte(v), &args); err != nil {
		return nil, fmt.Errorf("invalid metadata property params: failed to unserialize into an array: %w", err)
	}
	return args, nil
}
