package testutil

import (
	"net"
	"testing"
)

// FreePort returns a loopback TCP port nothing listened on a moment ago.
// Another process may still take it before the caller binds it; tests
// that can should listen on port 0 themselves instead.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
