package harness

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RequireService skips the test (or fails it when CI=true) if nothing
// listens on addr. It mirrors the main module's testutil.RequireService,
// which this module cannot import.
func RequireService(t testing.TB, name, addr string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		conn.Close()
		return
	}
	msg := name + " is not reachable at " + addr + " (" + err.Error() + "); start " + name + " there to run this test"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// RedisDeleteOnCleanup registers a cleanup that deletes every Redis key
// matching pattern (KEYS, then DEL). Register it before the sidecars that
// create the keys, so it runs after they have stopped.
func RedisDeleteOnCleanup(t testing.TB, addr, pattern string) {
	t.Helper()
	t.Cleanup(func() {
		if err := redisDelete(addr, pattern); err != nil {
			t.Errorf("clean up Redis keys %q: %v", pattern, err)
		}
	})
}

func redisDelete(addr, pattern string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return fmt.Errorf("dial %s: %w", addr, err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return fmt.Errorf("deadline: %w", err)
	}
	r := bufio.NewReader(conn)
	reply, err := redisDo(conn, r, "KEYS", pattern)
	if err != nil {
		return err
	}
	keys, ok := reply.([]any)
	if !ok {
		return fmt.Errorf("KEYS answered %v, want an array", reply)
	}
	if len(keys) == 0 {
		return nil
	}
	args := []string{"DEL"}
	for _, k := range keys {
		args = append(args, fmt.Sprint(k))
	}
	_, err = redisDo(conn, r, args...)
	return err
}

// redisDo sends one command in RESP and reads its reply: just enough of the
// protocol for test cleanup, so this module needs no Redis client.
func redisDo(w io.Writer, r *bufio.Reader, args ...string) (any, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return nil, fmt.Errorf("send %s: %w", args[0], err)
	}
	reply, err := readReply(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", args[0], err)
	}
	return reply, nil
}

func readReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("read reply: %w", err)
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("empty reply line")
	}
	body := line[1:]
	switch line[0] {
	case '+', ':':
		return body, nil
	case '-':
		return nil, fmt.Errorf("redis error: %s", body)
	case '$':
		return readBulk(r, body)
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, fmt.Errorf("array length %q: %w", body, err)
		}
		items := make([]any, 0, max(n, 0))
		for range n {
			item, err := readReply(r)
			if err != nil {
				return nil, err
			}
			items = append(items, item)
		}
		return items, nil
	}
	return nil, fmt.Errorf("unexpected reply %q", line)
}

func readBulk(r *bufio.Reader, size string) (any, error) {
	n, err := strconv.Atoi(size)
	if err != nil {
		return nil, fmt.Errorf("bulk length %q: %w", size, err)
	}
	if n < 0 {
		return nil, nil
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("read bulk string: %w", err)
	}
	return string(buf[:n]), nil
}
