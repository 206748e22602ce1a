package runner

import (
	"fmt"
	"net"
	"slices"
	"strconv"
)

// PickPort returns preferred when it can be bound on all interfaces and is
// not in avoid, else a free port chosen by the OS, as `dapr run` does for
// ports the user did not set. The port is released before returning, so
// another process could still take it; that race is accepted.
func PickPort(preferred int, avoid ...int) (int, error) {
	if preferred > 0 && !slices.Contains(avoid, preferred) {
		if l, err := net.Listen("tcp", ":"+strconv.Itoa(preferred)); err == nil {
			_ = l.Close()
			return preferred, nil
		}
	}
	for range 10 {
		l, err := net.Listen("tcp", ":0")
		if err != nil {
			return 0, fmt.Errorf("find a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if !slices.Contains(avoid, port) {
			return port, nil
		}
	}
	return 0, fmt.Errorf("find a free port: none outside %v", avoid)
}
