package sqlite

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/outrigger/outrigger/internal/nameresolution"
)

// Defaults as in Dapr's SQLite name resolver. Dapr's timeout for this
// component is 1s (not the state store's 20s): it must stay at least a
// second below updateInterval.
const (
	defaultTimeout         = time.Second
	defaultBusyTimeout     = 800 * time.Millisecond
	defaultTableName       = "hosts"
	defaultMetadataTable   = "metadata"
	defaultUpdateInterval  = 5 * time.Second
	defaultCleanupInterval = time.Hour
)

type config struct {
	connString      string // as given
	dsn             string // with pragmas, for the driver
	memory          bool
	timeout         time.Duration
	busyTimeout     time.Duration
	disableWAL      bool
	table           string
	metadataTable   string
	updateInterval  time.Duration
	cleanupInterval time.Duration // <= 0: no cleanup
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func parseConfig(raw map[string]any) (config, error) {
	cfg := nameresolution.Config(raw)
	var c config
	var err error
	get := func(f func() error) {
		if err == nil {
			err = f()
		}
	}
	get(func() (e error) { c.connString, e = cfg.String("", "connectionString"); return })
	get(func() (e error) { c.timeout, e = cfg.Duration(defaultTimeout, "timeout", "timeoutInSeconds"); return })
	get(func() (e error) { c.busyTimeout, e = cfg.Duration(defaultBusyTimeout, "busyTimeout"); return })
	get(func() (e error) { c.disableWAL, e = cfg.Bool(false, "disableWAL"); return })
	get(func() (e error) { c.table, e = cfg.String(defaultTableName, "tableName"); return })
	get(func() (e error) { c.metadataTable, e = cfg.String(defaultMetadataTable, "metadataTableName"); return })
	get(func() (e error) { c.updateInterval, e = cfg.Duration(defaultUpdateInterval, "updateInterval"); return })
	get(func() (e error) {
		c.cleanupInterval, e = cfg.Duration(defaultCleanupInterval, "cleanupInterval", "cleanupIntervalInSeconds")
		return
	})
	if err != nil {
		return config{}, err
	}
	if err := c.validate(); err != nil {
		return config{}, err
	}
	c.dsn, c.memory, err = buildDSN(c.connString, c.busyTimeout, c.disableWAL)
	return c, err
}

func (c *config) validate() error {
	c.connString = strings.TrimSpace(c.connString)
	switch {
	case c.connString == "":
		return errors.New("connectionString is required (path of the shared database file)")
	case !identifier.MatchString(c.table):
		return fmt.Errorf("tableName %q is not a valid identifier", c.table)
	case !identifier.MatchString(c.metadataTable):
		return fmt.Errorf("metadataTableName %q is not a valid identifier", c.metadataTable)
	case c.timeout < time.Second:
		return fmt.Errorf("timeout %v must be at least 1s", c.timeout)
	case c.busyTimeout < 0:
		return fmt.Errorf("busyTimeout %v must not be negative", c.busyTimeout)
	case c.updateInterval != c.updateInterval.Truncate(time.Second):
		// Heartbeats are stored as whole Unix seconds.
		return fmt.Errorf("updateInterval %v must be a whole number of seconds", c.updateInterval)
	case c.updateInterval-c.timeout < time.Second:
		return fmt.Errorf("updateInterval %v must be at least 1s longer than timeout %v", c.updateInterval, c.timeout)
	}
	return nil
}

// buildDSN adds the busy timeout and WAL pragmas unless the connection
// string sets them itself. It also reports whether the database lives in
// memory, where other sidecars cannot see it.
func buildDSN(conn string, busy time.Duration, disableWAL bool) (string, bool, error) {
	path, rawQuery, _ := strings.Cut(conn, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", false, fmt.Errorf("connectionString: invalid query: %w", err)
	}
	memory := path == ":memory:" || path == "file::memory:" || q.Get("mode") == "memory"
	has := func(pragma string) bool {
		for _, p := range q["_pragma"] {
			if strings.HasPrefix(strings.ToLower(strings.TrimSpace(p)), pragma) {
				return true
			}
		}
		return false
	}
	if !has("busy_timeout") {
		q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busy.Milliseconds(), 10)+")")
	}
	if !has("journal_mode") && !memory && !disableWAL {
		// WAL lets readers (Resolve) proceed while another sidecar heartbeats.
		q.Add("_pragma", "journal_mode(WAL)")
	}
	return path + "?" + q.Encode(), memory, nil
}
