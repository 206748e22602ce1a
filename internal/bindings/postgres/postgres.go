// Package postgres is the bindings.postgresql output binding (alias
// bindings.postgres): exec, query and close on a PostgreSQL database.
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/bindings/internal/sqlcmd"
	"github.com/outrigger/outrigger/internal/pgmode"
)

func init() {
	ctor := func() bindings.Output { return New() }
	bindings.Outputs.Register("bindings.postgresql", ctor)
	bindings.Outputs.Register("bindings.postgres", ctor)
}

const defaultTimeout = 20 * time.Second

// Binding is the PostgreSQL output binding.
type Binding struct {
	sqlcmd.Binding
}

// New returns an uninitialised binding.
func New() *Binding { return &Binding{} }

// Init opens the pool and pings the server within `timeout`.
func (b *Binding) Init(ctx context.Context, md bindings.Metadata) error {
	pc, timeout, err := poolConfig(md.Properties)
	if err != nil {
		return fmt.Errorf("postgresql binding: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return fmt.Errorf("postgresql binding: unable to connect to the DB: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return fmt.Errorf("postgresql binding: failed to ping the DB: %w", err)
	}
	b.DB = pgDB{pool}
	return nil
}

// Operations lists exec, query and close.
func (b *Binding) Operations() []string { return sqlcmd.Operations() }

// connKeys are the separate connection keys accepted when no connection
// string is given, with their libpq spelling.
var connKeys = []struct{ meta, conn string }{
	{"host", "host"}, {"hostaddr", "hostaddr"}, {"port", "port"}, {"database", "dbname"},
	{"user", "user"}, {"password", "password"}, {"sslRootCert", "sslrootcert"},
}

// poolConfig reads the metadata the way the PostgreSQL state store does:
// connectionString (or the older url, or host/port/... keys), timeout,
// maxConns, connectionMaxIdleTime and queryExecMode.
func poolConfig(props map[string]string) (*pgxpool.Config, time.Duration, error) {
	conn, ok := bindings.Prop(props, "connectionString", "url")
	if !ok {
		conn = connFromKeys(props)
	}
	if conn == "" {
		return nil, 0, errors.New("metadata connectionString is required")
	}
	pc, err := pgxpool.ParseConfig(conn)
	if err != nil {
		return nil, 0, fmt.Errorf("failed to parse the connection string: %w", err) // pgx redacts the password
	}
	timeout := defaultTimeout
	if v, ok := bindings.Prop(props, "timeout", "timeoutInSeconds"); ok {
		if timeout, err = duration(v); err != nil || timeout < time.Second {
			return nil, 0, fmt.Errorf("metadata timeout: %q is not a duration of at least 1s", v)
		}
	}
	if v, ok := bindings.Prop(props, "maxConns"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, 0, fmt.Errorf("metadata maxConns: %q is not a positive integer", v)
		}
		pc.MaxConns = int32(min(n, 1<<30))
	}
	if v, ok := bindings.Prop(props, "connectionMaxIdleTime"); ok {
		if pc.MaxConnIdleTime, err = duration(v); err != nil {
			return nil, 0, fmt.Errorf("metadata connectionMaxIdleTime: %w", err)
		}
	}
	if v, ok := bindings.Prop(props, "queryExecMode"); ok {
		mode, err := pgmode.Parse(v)
		if err != nil {
			return nil, 0, err
		}
		pc.ConnConfig.DefaultQueryExecMode = mode
	}
	return pc, timeout, nil
}

func connFromKeys(props map[string]string) string {
	var parts []string
	for _, k := range connKeys {
		if v, ok := bindings.Prop(props, k.meta); ok {
			v = strings.ReplaceAll(strings.ReplaceAll(v, `\`, `\\`), `'`, `\'`)
			parts = append(parts, k.conn+"='"+v+"'")
		}
	}
	return strings.Join(parts, " ")
}

// duration accepts a Go duration or a whole number of seconds.
func duration(v string) (time.Duration, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration", v)
	}
	return d, nil
}

// pgDB runs statements on a pgx pool.
type pgDB struct{ pool *pgxpool.Pool }

func (d pgDB) Exec(ctx context.Context, sql string, args []any) (int64, error) {
	tag, err := d.pool.Exec(ctx, sql, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// Query returns the rows as a JSON array of arrays of column values, each
// value as pgx decodes it (numbers, strings, RFC 3339 times, objects for
// JSON columns, base64 for bytea).
func (d pgDB) Query(ctx context.Context, sql string, args []any) ([]byte, error) {
	rows, err := d.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]any, 0)
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, fmt.Errorf("reading a row: %w", err)
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encoding the rows: %w", err)
	}
	return b, nil
}

func (d pgDB) Close() error {
	d.pool.Close()
	return nil
}
