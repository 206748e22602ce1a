package harness

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Redis runs one command on the Redis server at addr and returns its reply:
// a string, nil (a missing bulk string), an []any of those, or an error
// for an error reply. Tests use it to set up and inspect data without a
// Redis client library.
func Redis(addr string, args ...string) (any, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return nil, fmt.Errorf("deadline: %w", err)
	}
	return redisDo(conn, bufio.NewReader(conn), args...)
}

// MustRedis is Redis that fails the test on an error.
func MustRedis(t testing.TB, addr string, args ...string) any {
	t.Helper()
	reply, err := Redis(addr, args...)
	if err != nil {
		t.Fatalf("redis %q: %v", args, err)
	}
	return reply
}

// keyspace counts the tests of this process that need keyspace
// notifications, so that parallel tests share one change of the server
// setting and the last one restores it.
var keyspace struct {
	mu    sync.Mutex
	users int
	prev  string // the setting before the first user changed it
	set   bool   // whether this process changed it
}

// RedisKeyspaceNotifications makes sure the server at addr publishes
// keyspace notifications (configuration.redis subscriptions need them):
// when they are off it runs CONFIG SET notify-keyspace-events KA and
// registers a cleanup that restores the previous value once the last test
// of this process that asked for them has finished (unless they have been
// turned off again meanwhile).
func RedisKeyspaceNotifications(t testing.TB, addr string) {
	t.Helper()
	keyspace.mu.Lock()
	defer keyspace.mu.Unlock()
	if keyspace.users == 0 {
		prev, err := notifySetting(addr)
		if err != nil {
			t.Fatalf("read notify-keyspace-events: %v", err)
		}
		keyspace.prev, keyspace.set = prev, false
		if !keyspaceEnabled(prev) {
			if _, err := Redis(addr, "CONFIG", "SET", "notify-keyspace-events", "KA"); err != nil {
				t.Fatalf("enable keyspace notifications: %v", err)
			}
			keyspace.set = true
		}
	}
	keyspace.users++
	t.Cleanup(func() { releaseKeyspace(t, addr) })
}

func releaseKeyspace(t testing.TB, addr string) {
	keyspace.mu.Lock()
	defer keyspace.mu.Unlock()
	keyspace.users--
	if keyspace.users > 0 || !keyspace.set {
		return
	}
	keyspace.set = false
	// Turned off again meanwhile (by another test process): nothing to
	// restore.
	if now, err := notifySetting(addr); err != nil || !keyspaceEnabled(now) {
		return
	}
	if _, err := Redis(addr, "CONFIG", "SET", "notify-keyspace-events", keyspace.prev); err != nil {
		t.Errorf("restore notify-keyspace-events to %q: %v", keyspace.prev, err)
	}
}

// notifySetting reads notify-keyspace-events (CONFIG GET answers a
// name/value pair).
func notifySetting(addr string) (string, error) {
	reply, err := Redis(addr, "CONFIG", "GET", "notify-keyspace-events")
	if err != nil {
		return "", err
	}
	pair, ok := reply.([]any)
	if !ok || len(pair) != 2 {
		return "", fmt.Errorf("CONFIG GET answered %v, want a name/value pair", reply)
	}
	v, _ := pair[1].(string)
	return v, nil
}

// keyspaceEnabled reports whether flags publish keyspace events (K) for
// string and generic commands (A, or both $ and g).
func keyspaceEnabled(flags string) bool {
	if !strings.Contains(flags, "K") {
		return false
	}
	return strings.Contains(flags, "A") || strings.Contains(flags, "$") && strings.Contains(flags, "g")
}
