// Package pgmode reads the queryExecMode metadata that every PostgreSQL
// component (state store, binding, configuration store) accepts, as Dapr
// does: the names of pgx's query execution modes.
package pgmode

import (
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Names lists the accepted values, in the order error messages give them.
var Names = []string{"cache_statement", "cache_describe", "describe_exec", "exec", "simple_protocol"}

var modes = map[string]pgx.QueryExecMode{
	"cache_statement": pgx.QueryExecModeCacheStatement,
	"cache_describe":  pgx.QueryExecModeCacheDescribe,
	"describe_exec":   pgx.QueryExecModeDescribeExec,
	"exec":            pgx.QueryExecModeExec,
	"simple_protocol": pgx.QueryExecModeSimpleProtocol,
}

// Parse returns the mode a queryExecMode value names.
func Parse(name string) (pgx.QueryExecMode, error) {
	mode, ok := modes[name]
	if !ok {
		return 0, fmt.Errorf("metadata queryExecMode: %q is not one of cache_statement, cache_describe, describe_exec, exec, simple_protocol", name)
	}
	return mode, nil
}
