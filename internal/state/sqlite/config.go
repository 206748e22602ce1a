package sqlite

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/outrigger/outrigger/internal/state/internal/storeutil"
)

// Defaults, as Dapr's SQLite state store has them.
const (
	defaultTimeout       = 20 * time.Second
	defaultBusyTimeout   = 2 * time.Second
	defaultTableName     = "state"
	defaultMetadataTable = "metadata"
)

// config is the parsed component metadata.
type config struct {
	connString        string // as given by the user
	timeout           time.Duration
	busyTimeout       time.Duration
	disableWAL        bool
	tableName         string
	metadataTableName string
	cleanupInterval   time.Duration // <= 0 disables the background cleanup
}

func parseConfig(props map[string]string) (config, error) {
	c := config{
		timeout:           defaultTimeout,
		busyTimeout:       defaultBusyTimeout,
		tableName:         defaultTableName,
		metadataTableName: defaultMetadataTable,
	}
	c.connString, _ = storeutil.Prop(props, "connectionString", "url")
	if strings.TrimSpace(c.connString) == "" {
		return c, errors.New("missing metadata 'connectionString'")
	}
	var err error
	if c.timeout, err = storeutil.DurationProp(props, c.timeout, "timeout", "timeoutInSeconds"); err != nil {
		return c, err
	}
	if c.timeout < time.Second {
		return c, errors.New("invalid value for 'timeout': must be at least 1s")
	}
	if c.busyTimeout, err = storeutil.DurationProp(props, c.busyTimeout, "busyTimeout"); err != nil {
		return c, err
	}
	c.busyTimeout = c.busyTimeout.Truncate(time.Millisecond)
	if c.cleanupInterval, err = storeutil.DurationProp(props, 0, "cleanupInterval", "cleanupIntervalInSeconds"); err != nil {
		return c, err
	}
	if v, ok := storeutil.Prop(props, "disableWAL"); ok && v != "" {
		if c.disableWAL, err = strconv.ParseBool(v); err != nil {
			return c, fmt.Errorf("invalid value for 'disableWAL': %w", err)
		}
	}
	if v, ok := storeutil.Prop(props, "tableName"); ok && v != "" {
		c.tableName = v
	}
	if v, ok := storeutil.Prop(props, "metadataTableName"); ok && v != "" {
		c.metadataTableName = v
	}
	for _, name := range []string{c.tableName, c.metadataTableName} {
		if !storeutil.ValidIdentifier(name) {
			return c, fmt.Errorf("invalid table name %q: only letters, digits and '_' are allowed", name)
		}
	}
	return c, nil
}

// inMemory reports whether the connection string names an in-memory
// database.
func (c config) inMemory() bool {
	lc := strings.ToLower(c.connString)
	return strings.HasPrefix(lc, ":memory:") || strings.HasPrefix(lc, "file::memory:") ||
		strings.Contains(lc, "mode=memory")
}

// dsn builds the driver connection string: the user's path or URI plus
// pragmas for the busy timeout, the journal mode and immediate
// transactions. Like Dapr, it refuses pragmas that the metadata controls.
func (c config) dsn() (string, error) {
	base, rawQuery, _ := strings.Cut(c.connString, "?")
	qs, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", fmt.Errorf("invalid query string in connectionString: %w", err)
	}
	readOnly := qs.Get("mode") == "ro" || qs.Get("immutable") == "1"
	userSync := false
	for _, p := range qs["_pragma"] {
		p = strings.ToLower(strings.TrimSpace(p))
		for _, forbidden := range []string{"busy_timeout", "journal_mode", "foreign_keys"} {
			if strings.HasPrefix(p, forbidden) {
				return "", fmt.Errorf("connectionString must not set _pragma=%s: use the component metadata instead", forbidden)
			}
		}
		if strings.HasPrefix(p, "synchronous") {
			userSync = true
		}
	}
	if qs.Get("_txlock") == "" {
		// A write transaction must take the write lock when it begins, or
		// two deferred transactions that both read first deadlock and one
		// fails with SQLITE_BUSY regardless of the busy timeout.
		qs.Set("_txlock", "immediate")
	}
	if c.busyTimeout > 0 {
		qs.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", c.busyTimeout.Milliseconds()))
	}
	switch {
	case c.inMemory():
		qs.Add("_pragma", "journal_mode(MEMORY)")
	case c.disableWAL || readOnly:
		qs.Add("_pragma", "journal_mode(DELETE)")
	default:
		qs.Add("_pragma", "journal_mode(WAL)")
		if !userSync {
			// In WAL mode NORMAL keeps the database consistent after a
			// crash and skips an fsync per commit; only the last commits
			// may be lost on power failure.
			qs.Add("_pragma", "synchronous(NORMAL)")
		}
	}
	return base + "?" + qs.Encode(), nil
}
