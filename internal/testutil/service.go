// Package testutil holds small helpers shared by tests.
package testutil

import (
	"net"
	"os"
	"testing"
	"time"
)

// RequireService skips the test (or fails it when CI=true) if nothing
// listens on addr, so tests that need a local backend stay runnable on
// machines without it.
func RequireService(t *testing.T, name, addr string) {
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
