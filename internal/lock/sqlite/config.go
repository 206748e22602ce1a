package sqlite

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Defaults. The busy timeout is longer than the state store's: every lock
// call is a write, and several sidecars may queue on the file at once.
const (
	defaultTimeout     = 20 * time.Second
	defaultBusyTimeout = 5 * time.Second
	defaultTableName   = "locks"
)

// config is the parsed component metadata.
type config struct {
	connString  string        // connectionString (alias url) as given
	timeout     time.Duration // bound on each operation
	busyTimeout time.Duration // how long to wait for another writer
	disableWAL  bool
	tableName   string
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func parseConfig(in map[string]string) (config, error) {
	props := make(map[string]string, len(in))
	for k, v := range in {
		// Dapr matches metadata names case-insensitively.
		props[strings.ToLower(k)] = strings.TrimSpace(v)
	}
	c := config{timeout: defaultTimeout, busyTimeout: defaultBusyTimeout, tableName: defaultTableName}
	c.connString = first(props, "connectionstring", "url")
	if c.connString == "" {
		return c, errors.New("missing metadata 'connectionString'")
	}
	var err error
	if c.timeout, err = duration(props, "timeout", c.timeout); err != nil {
		return c, err
	}
	if c.timeout < time.Second {
		return c, errors.New("invalid value for 'timeout': must be at least 1s")
	}
	if c.busyTimeout, err = duration(props, "busytimeout", c.busyTimeout); err != nil {
		return c, err
	}
	if v := props["disablewal"]; v != "" {
		if c.disableWAL, err = strconv.ParseBool(v); err != nil {
			return c, fmt.Errorf("invalid value for 'disableWAL': %w", err)
		}
	}
	if v := props["tablename"]; v != "" {
		c.tableName = v
	}
	if !identifier.MatchString(c.tableName) {
		return c, fmt.Errorf("invalid table name %q: only letters, digits and '_' are allowed", c.tableName)
	}
	return c, nil
}

func first(props map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := props[k]; v != "" {
			return v
		}
	}
	return ""
}

// duration reads a Go duration or a plain number of seconds.
func duration(props map[string]string, key string, def time.Duration) (time.Duration, error) {
	v := props[key]
	if v == "" {
		return def, nil
	}
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("invalid value for '%s': %q is not a duration", key, v)
	}
	return d, nil
}

// inMemory reports whether the connection string names an in-memory
// database (private to one store: it cannot be shared between sidecars).
func (c config) inMemory() bool {
	lc := strings.ToLower(c.connString)
	return strings.HasPrefix(lc, ":memory:") || strings.HasPrefix(lc, "file::memory:") ||
		strings.Contains(lc, "mode=memory")
}

// dsn builds the driver connection string: the user's path or URI plus the
// pragmas this store depends on. Transactions always begin IMMEDIATE, so
// each lock call takes the database's write lock before it reads anything:
// that is what makes check-then-write atomic across processes.
func (c config) dsn() (string, error) {
	base, rawQuery, _ := strings.Cut(c.connString, "?")
	qs, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", fmt.Errorf("invalid query string in connectionString: %w", err)
	}
	for _, p := range qs["_pragma"] {
		p = strings.ToLower(strings.TrimSpace(p))
		for _, forbidden := range []string{"busy_timeout", "journal_mode"} {
			if strings.HasPrefix(p, forbidden) {
				return "", fmt.Errorf("connectionString must not set _pragma=%s: use the component metadata instead", forbidden)
			}
		}
	}
	if v := strings.ToLower(qs.Get("_txlock")); v != "" && v != "immediate" && v != "exclusive" {
		return "", fmt.Errorf("connectionString must not set _txlock=%s: lock transactions must take the write lock when they begin", v)
	}
	if qs.Get("_txlock") == "" {
		qs.Set("_txlock", "immediate")
	}
	qs.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", c.busyTimeout.Milliseconds()))
	switch {
	case c.inMemory():
		qs.Add("_pragma", "journal_mode(MEMORY)")
	case c.disableWAL:
		qs.Add("_pragma", "journal_mode(DELETE)")
	default:
		// WAL: readers never block the writer, and a commit needs no
		// fsync of the main file.
		qs.Add("_pragma", "journal_mode(WAL)")
	}
	return base + "?" + qs.Encode(), nil
}
