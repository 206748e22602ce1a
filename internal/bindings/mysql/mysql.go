// Package mysql is the bindings.mysql output binding (MySQL and MariaDB):
// exec, query and close.
package mysql

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/bindings/internal/sqlcmd"
)

func init() {
	bindings.Outputs.Register("bindings.mysql", func() bindings.Output { return New() })
}

// Binding is the MySQL output binding.
type Binding struct {
	sqlcmd.Binding
}

// New returns an uninitialised binding.
func New() *Binding { return &Binding{} }

// Init opens the pool and pings the server.
func (b *Binding) Init(ctx context.Context, md bindings.Metadata) error {
	db, err := open(md.Properties)
	if err != nil {
		return fmt.Errorf("mysql binding: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return fmt.Errorf("mysql binding: unable to ping the DB: %w", err)
	}
	b.DB = myDB{db}
	return nil
}

// Operations lists exec, query and close.
func (b *Binding) Operations() []string { return sqlcmd.Operations() }

// open parses the metadata: url (a Go MySQL DSN), pemPath, and the pool
// settings maxIdleConns, maxOpenConns, connMaxLifetime, connMaxIdleTime.
func open(props map[string]string) (*sql.DB, error) {
	dsn, ok := bindings.Prop(props, "url", "connectionString")
	if !ok {
		return nil, errors.New("missing MySql connection string: set metadata url")
	}
	tlsConf, err := loadTLS(props)
	if err != nil {
		return nil, err
	}
	cfg, err := driverConfig(dsn, tlsConf)
	if err != nil {
		return nil, err
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("error opening DB connection: %w", err)
	}
	db := sql.OpenDB(conn)
	if err := setPool(db, props); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// driverConfig parses the DSN. With a CA from pemPath the DSN carries
// "tls=custom", which names a config in the driver's global registry;
// that part is dropped and the TLS config set directly instead.
func driverConfig(dsn string, tlsConf *tls.Config) (*mysql.Config, error) {
	if tlsConf != nil {
		base, query, _ := strings.Cut(dsn, "?")
		var keep []string
		for p := range strings.SplitSeq(query, "&") {
			if p != "" && !strings.EqualFold(p, "tls=custom") {
				keep = append(keep, p)
			}
		}
		dsn = base
		if len(keep) > 0 {
			dsn += "?" + strings.Join(keep, "&")
		}
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("illegal Data Source Name (DSN) specified by url: %w", err)
	}
	if tlsConf != nil {
		cfg.TLS = tlsConf
	}
	// Time columns come back as times, not bytes.
	cfg.ParseTime = true
	return cfg, nil
}

func loadTLS(props map[string]string) (*tls.Config, error) {
	path, ok := bindings.Prop(props, "pemPath")
	if !ok {
		return nil, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("error reading PEM file from %s: %w", path, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("failed to append PEM: pemPath holds no certificate")
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

func setPool(db *sql.DB, props map[string]string) error {
	for _, f := range []struct {
		key string
		set func(int)
	}{{"maxIdleConns", db.SetMaxIdleConns}, {"maxOpenConns", db.SetMaxOpenConns}} {
		if v, ok := bindings.Prop(props, f.key); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("metadata %s: %q is not an integer", f.key, v)
			}
			if n > 0 {
				f.set(n)
			}
		}
	}
	for _, f := range []struct {
		key string
		set func(time.Duration)
	}{{"connMaxLifetime", db.SetConnMaxLifetime}, {"connMaxIdleTime", db.SetConnMaxIdleTime}} {
		if v, ok := bindings.Prop(props, f.key); ok {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("metadata %s: %q is not a duration", f.key, v)
			}
			if d > 0 {
				f.set(d)
			}
		}
	}
	return nil
}

// myDB runs statements on a database/sql pool.
type myDB struct{ db *sql.DB }

func (d myDB) Exec(ctx context.Context, query string, args []any) (int64, error) {
	res, err := d.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Query returns the rows as a JSON array of objects keyed by column name.
// NULL columns are left out; numbers are numbers, times RFC 3339,
// character data (incl. DECIMAL and JSON columns) strings, binary data
// base64. No rows is null, as in Dapr.
func (d myDB) Query(ctx context.Context, query string, args []any) ([]byte, error) {
	rows, err := d.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for rows.Next() {
		dest := make([]any, len(cols))
		for i, c := range cols {
			dest[i] = scanTarget(c)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("reading a row: %w", err)
		}
		out = append(out, rowObject(cols, dest))
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

// scanTarget is a pointer to the column's natural Go type (the driver
// picks int64, float64, string, sql.NullInt64, ... from the column type).
func scanTarget(c *sql.ColumnType) any {
	t := c.ScanType()
	if t == nil || t.Kind() == reflect.Pointer {
		return new(any) // a column of unknown type (e.g. SELECT NULL)
	}
	return reflect.New(t).Interface()
}

func rowObject(cols []*sql.ColumnType, dest []any) map[string]any {
	row := make(map[string]any, len(cols))
	for i, c := range cols {
		var v any
		if valuer, ok := dest[i].(driver.Valuer); ok {
			v, _ = valuer.Value() // the Null* types: nil for NULL
		} else {
			v = reflect.ValueOf(dest[i]).Elem().Interface()
		}
		if b, ok := v.([]byte); ok && b == nil {
			v = nil // a NULL binary column
		}
		if v != nil {
			row[c.Name()] = v
		}
	}
	return row
}

func (d myDB) Close() error { return d.db.Close() }
