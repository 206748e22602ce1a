package postgres

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outrigger/outrigger/internal/pgmode"
	"github.com/outrigger/outrigger/internal/state/internal/storeutil"
)

// Defaults, as Dapr's PostgreSQL state store has them.
const (
	defaultTimeout         = 20 * time.Second
	defaultCleanupInterval = time.Hour
	defaultTableName       = "state"
	defaultMetadataTable   = "dapr_metadata"
)

// config is the parsed component metadata.
type config struct {
	connString        string
	timeout           time.Duration
	tableName         string // v1
	tablePrefix       string // v2
	metadataTableName string
	cleanupInterval   time.Duration // 0 = disabled
	maxConns          int
	maxConnIdleTime   time.Duration
	queryExecMode     string
}

// connKeys are the libpq keywords accepted as separate metadata keys when no
// connectionString is given, mapped to their connection-string spelling.
var connKeys = []struct{ meta, conn string }{
	{"host", "host"},
	{"hostaddr", "hostaddr"},
	{"port", "port"},
	{"database", "dbname"},
	{"user", "user"},
	{"password", "password"},
	{"sslRootCert", "sslrootcert"},
}

func parseConfig(props map[string]string) (config, error) {
	c := config{
		timeout:           defaultTimeout,
		tableName:         defaultTableName,
		metadataTableName: defaultMetadataTable,
		cleanupInterval:   defaultCleanupInterval,
	}
	get := func(names ...string) (string, bool) {
		for _, n := range names {
			for k, v := range props {
				if strings.EqualFold(k, n) && v != "" {
					return v, true
				}
			}
		}
		return "", false
	}

	c.connString, _ = get("connectionString", "url")
	if c.connString == "" {
		c.connString = connStringFromKeys(get)
	}
	if c.connString == "" {
		return c, errors.New("missing connection string: set metadata 'connectionString'")
	}

	var err error
	if v, ok := get("timeout", "timeoutInSeconds"); ok {
		if c.timeout, err = storeutil.ParseDuration(v); err != nil {
			return c, fmt.Errorf("invalid value for 'timeout': %w", err)
		}
		if c.timeout < time.Second {
			return c, errors.New("invalid value for 'timeout': must be at least 1s")
		}
	}
	if v, ok := get("cleanupInterval", "cleanupIntervalInSeconds"); ok {
		if c.cleanupInterval, err = storeutil.ParseDuration(v); err != nil {
			return c, fmt.Errorf("invalid value for 'cleanupInterval': %w", err)
		}
		// A non-positive interval disables the background cleanup.
		c.cleanupInterval = max(c.cleanupInterval, 0)
	}
	if v, ok := get("tableName"); ok {
		c.tableName = v
	}
	if v, ok := get("tablePrefix"); ok {
		c.tablePrefix = v
	}
	if v, ok := get("metadataTableName"); ok {
		c.metadataTableName = v
	}
	if v, ok := get("maxConns"); ok {
		if c.maxConns, err = strconv.Atoi(v); err != nil {
			return c, fmt.Errorf("invalid value for 'maxConns': %w", err)
		}
	}
	if v, ok := get("connectionMaxIdleTime"); ok {
		if c.maxConnIdleTime, err = storeutil.ParseDuration(v); err != nil {
			return c, fmt.Errorf("invalid value for 'connectionMaxIdleTime': %w", err)
		}
	}
	c.queryExecMode, _ = get("queryExecMode")
	return c, nil
}

// connStringFromKeys builds a keyword/value connection string from the
// separate host/port/... metadata keys.
func connStringFromKeys(get func(...string) (string, bool)) string {
	var parts []string
	for _, k := range connKeys {
		if v, ok := get(k.meta); ok {
			parts = append(parts, k.conn+"="+quoteConnValue(v))
		}
	}
	return strings.Join(parts, " ")
}

// quoteConnValue quotes a keyword/value connection string value so spaces,
// quotes and backslashes survive.
func quoteConnValue(v string) string {
	v = strings.ReplaceAll(v, `\`, `\\`)
	v = strings.ReplaceAll(v, `'`, `\'`)
	return "'" + v + "'"
}

func (c config) poolConfig() (*pgxpool.Config, error) {
	pc, err := pgxpool.ParseConfig(c.connString)
	if err != nil {
		// pgx redacts the password in its message.
		return nil, fmt.Errorf("failed to parse the connection string: %w", err)
	}
	if c.maxConnIdleTime > 0 {
		pc.MaxConnIdleTime = c.maxConnIdleTime
	}
	if c.maxConns > 1 {
		pc.MaxConns = int32(min(c.maxConns, 1<<30))
	}
	if c.queryExecMode != "" {
		mode, err := pgmode.Parse(c.queryExecMode)
		if err != nil {
			return nil, err
		}
		pc.ConnConfig.DefaultQueryExecMode = mode
	}
	return pc, nil
}
