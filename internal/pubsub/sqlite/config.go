package sqlite

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults of the component metadata.
const (
	defaultTimeout           = 20 * time.Second
	defaultBusyTimeout       = 5 * time.Second
	defaultTablePrefix       = "pubsub_"
	defaultVisibilityTimeout = 30 * time.Second
	defaultRetryBackoff      = 100 * time.Millisecond
	defaultMaxRetryBackoff   = 10 * time.Second
	defaultPollInterval      = 50 * time.Millisecond
	defaultRetentionPeriod   = 24 * time.Hour
	defaultCleanupInterval   = 30 * time.Second
	defaultConcurrency       = 100
)

// config is the parsed component metadata.
type config struct {
	connString  string // as given by the user
	consumerID  string // default consumer group
	timeout     time.Duration
	busyTimeout time.Duration
	disableWAL  bool
	tablePrefix string
	// visibilityTimeout is how long a delivered message may stay
	// unacknowledged before it is delivered again (a hung handler).
	visibilityTimeout time.Duration
	// retryBackoff is the delay before redelivering a message whose handler
	// failed; it doubles per attempt up to maxRetryBackoff.
	retryBackoff    time.Duration
	maxRetryBackoff time.Duration
	// pollInterval is how often other processes' writes are looked for.
	pollInterval time.Duration
	// retentionPeriod: how long messages of a topic without any consumer
	// group are kept, and how long an inactive group is remembered.
	retentionPeriod time.Duration
	cleanupInterval time.Duration // <= 0 disables the cleanup
	concurrency     int           // handler calls in flight per subscription
}

func parseConfig(props map[string]string) (config, error) {
	c := config{tablePrefix: defaultTablePrefix, concurrency: defaultConcurrency}
	c.connString, _ = prop(props, "connectionString", "url")
	if strings.TrimSpace(c.connString) == "" {
		return c, errors.New("missing metadata 'connectionString'")
	}
	c.consumerID, _ = prop(props, "consumerID")
	durations := []struct {
		dst   *time.Duration
		def   time.Duration
		min   time.Duration
		names []string
	}{
		{&c.timeout, defaultTimeout, time.Second, []string{"timeout", "timeoutInSeconds"}},
		{&c.busyTimeout, defaultBusyTimeout, 0, []string{"busyTimeout"}},
		{&c.visibilityTimeout, defaultVisibilityTimeout, time.Second, []string{"visibilityTimeout", "redeliveryTimeout", "processingTimeout"}},
		{&c.retryBackoff, defaultRetryBackoff, time.Millisecond, []string{"retryBackoff"}},
		{&c.maxRetryBackoff, defaultMaxRetryBackoff, time.Millisecond, []string{"maxRetryBackoff"}},
		{&c.pollInterval, defaultPollInterval, time.Millisecond, []string{"pollInterval"}},
		{&c.retentionPeriod, defaultRetentionPeriod, time.Minute, []string{"retentionPeriod"}},
		{&c.cleanupInterval, defaultCleanupInterval, 0, []string{"cleanupInterval"}},
	}
	for _, d := range durations {
		v, err := durationProp(props, d.def, d.names...)
		if err != nil {
			return c, err
		}
		if d.min > 0 && v < d.min {
			return c, fmt.Errorf("invalid value for '%s': must be at least %s", d.names[0], d.min)
		}
		*d.dst = v
	}
	c.maxRetryBackoff = max(c.maxRetryBackoff, c.retryBackoff)
	if v, ok := prop(props, "disableWAL"); ok && strings.TrimSpace(v) != "" {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return c, fmt.Errorf("invalid value for 'disableWAL': %w", err)
		}
		c.disableWAL = b
	}
	if v, ok := prop(props, "concurrency"); ok && strings.TrimSpace(v) != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 {
			return c, fmt.Errorf("invalid value for 'concurrency': %q is not a positive integer", v)
		}
		c.concurrency = n
	}
	if v, ok := prop(props, "tablePrefix"); ok {
		c.tablePrefix = v
	}
	// Non-empty: bare names such as "groups" are SQL keywords.
	if !validIdentifier(c.tablePrefix) {
		return c, fmt.Errorf("invalid tablePrefix %q: must be letters, digits and '_'", c.tablePrefix)
	}
	return c, nil
}

// inMemory reports whether the connection string names an in-memory
// database (possible, though nothing then outlives the process).
func (c config) inMemory() bool {
	lc := strings.ToLower(c.connString)
	return strings.HasPrefix(lc, ":memory:") || strings.HasPrefix(lc, "file::memory:") ||
		strings.Contains(lc, "mode=memory")
}

// dsn builds the driver connection string of the read connections: the
// user's path or URI plus the busy timeout, WAL and immediate write
// transactions.
func (c config) dsn() (string, error) { return c.dsnWith(c.busyTimeout) }

// writeDSN is the connection string of the write connection. It has no
// busy timeout: the broker waits for the write lock itself (beginWrite).
func (c config) writeDSN() (string, error) { return c.dsnWith(0) }

func (c config) dsnWith(busyTimeout time.Duration) (string, error) {
	base, rawQuery, _ := strings.Cut(c.connString, "?")
	qs, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", fmt.Errorf("invalid query string in connectionString: %w", err)
	}
	userSync := false
	for _, p := range qs["_pragma"] {
		p = strings.ToLower(strings.TrimSpace(p))
		for _, forbidden := range []string{"busy_timeout", "journal_mode"} {
			if strings.HasPrefix(p, forbidden) {
				return "", fmt.Errorf("connectionString must not set _pragma=%s: use the component metadata instead", forbidden)
			}
		}
		userSync = userSync || strings.HasPrefix(p, "synchronous")
	}
	if qs.Get("_txlock") == "" {
		// Take the write lock when a write transaction begins: two
		// deferred transactions that both read first would deadlock and
		// one would fail with SQLITE_BUSY despite the busy timeout.
		qs.Set("_txlock", "immediate")
	}
	qs.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	switch {
	case c.inMemory():
		qs.Add("_pragma", "journal_mode(MEMORY)")
	case c.disableWAL:
		qs.Add("_pragma", "journal_mode(DELETE)")
	default:
		qs.Add("_pragma", "journal_mode(WAL)")
		if !userSync {
			// With WAL, NORMAL survives a crash of the process (kill -9)
			// with every committed publish intact; only a power failure
			// may lose the last commits. An fsync per commit would cap
			// the throughput far below what a sidecar needs.
			qs.Add("_pragma", "synchronous(NORMAL)")
		}
	}
	return base + "?" + qs.Encode(), nil
}

// prop looks a metadata key up case-insensitively, trying each alias in
// turn; an exact match wins over one that differs in case.
func prop(props map[string]string, names ...string) (string, bool) {
	for _, n := range names {
		if v, ok := props[n]; ok {
			return v, true
		}
		for k, v := range props {
			if strings.EqualFold(k, n) {
				return v, true
			}
		}
	}
	return "", false
}

// durationProp reads a Go duration ("90s") or a number of seconds under
// the first of names present; def when absent or blank.
func durationProp(props map[string]string, def time.Duration, names ...string) (time.Duration, error) {
	v, ok := prop(props, names...)
	v = strings.TrimSpace(v)
	if !ok || v == "" {
		return def, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("invalid value for '%s': %q is neither a duration nor a number of seconds", names[0], v)
	}
	return d, nil
}

// validIdentifier accepts names safe to splice into SQL unquoted.
func validIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b != '_' && (b < '0' || b > '9') && (b < 'a' || b > 'z') && (b < 'A' || b > 'Z') {
			return false
		}
	}
	return true
}
