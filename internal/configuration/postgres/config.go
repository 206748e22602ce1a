package postgres

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outrigger/outrigger/internal/pgmode"
)

// defaultTimeout bounds every query, as in Dapr.
const defaultTimeout = 20 * time.Second

// config is the parsed component metadata.
type config struct {
	connString      string
	table           string // validated, spliced into SQL unquoted as Dapr does
	notifyChannel   string
	timeout         time.Duration
	maxConns        int
	maxConnIdleTime time.Duration
	queryExecMode   string
}

// tableName accepts "table" or "schema.table" made of plain identifiers,
// so the name can go into SQL text safely. Unquoted, PostgreSQL folds it
// to lower case, as it does for Dapr.
var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)

func parseConfig(props map[string]string) (config, error) {
	get := func(names ...string) string {
		for _, n := range names {
			for k, v := range props {
				if strings.EqualFold(k, n) && strings.TrimSpace(v) != "" {
					return strings.TrimSpace(v)
				}
			}
		}
		return ""
	}
	c := config{
		connString:    get("connectionString"),
		table:         get("table"),
		notifyChannel: get("notifyChannel"),
		queryExecMode: get("queryExecMode"),
		timeout:       defaultTimeout,
	}
	if c.connString == "" {
		return c, errors.New("metadata connectionString is required")
	}
	if c.table == "" {
		return c, errors.New("metadata table is required")
	}
	if !tableName.MatchString(c.table) {
		return c, fmt.Errorf("metadata table: %q is not a valid table name (letters, digits and underscores, optionally schema.table)", c.table)
	}
	var err error
	if v := get("timeout", "timeoutInSeconds"); v != "" {
		if c.timeout, err = parseDuration(v); err != nil || c.timeout <= 0 {
			return c, fmt.Errorf("metadata timeout: %q is not a positive duration", v)
		}
	}
	if v := get("connectionMaxIdleTime"); v != "" {
		if c.maxConnIdleTime, err = parseDuration(v); err != nil {
			return c, fmt.Errorf("metadata connectionMaxIdleTime: %q is not a duration", v)
		}
	}
	if v := get("maxConns"); v != "" {
		if c.maxConns, err = strconv.Atoi(v); err != nil {
			return c, fmt.Errorf("metadata maxConns: %q is not an integer", v)
		}
	}
	return c, nil
}

// parseDuration reads a Go duration, or a bare number of seconds.
func parseDuration(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(v)
}

func (c config) poolConfig() (*pgxpool.Config, error) {
	pc, err := pgxpool.ParseConfig(c.connString)
	if err != nil {
		// pgx redacts the password in its message.
		return nil, fmt.Errorf("parsing the connection string: %w", err)
	}
	if c.maxConnIdleTime > 0 {
		pc.MaxConnIdleTime = c.maxConnIdleTime
	}
	if c.maxConns > 0 {
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
