package sidecar

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/outrigger/outrigger/internal/rawsock"
)

// Range of the "stable" internal gRPC port daprd picks when
// --dapr-internal-grpc-port is not given: the same app in the same place
// gets the same port across restarts, so peers' cached addresses stay valid.
const (
	stablePortBase  = 47300
	stablePortRange = 18235
)

// stableInternalPort derives daprd's stable port from appID, the working
// directory, the user id and the hostname.
func stableInternalPort(appID string) int {
	cwd, _ := os.Getwd()
	host, _ := os.Hostname()
	seed := fmt.Sprintf("%s|%s|%d|%s", appID, cwd, os.Getuid(), host)
	sum := sha256.Sum256([]byte(seed))
	return stablePortBase + int(binary.LittleEndian.Uint16(sum[:2]))%stablePortRange
}

// listenInternal binds the internal gRPC server (see bindInternal); its
// connections use raw socket reads and writes (package rawsock).
func listenInternal(address string, port int, appID string) (net.Listener, error) {
	ln, err := bindInternal(address, port, appID)
	if err != nil {
		return nil, err
	}
	return rawsock.Listener{Listener: ln}, nil
}

// bindInternal binds the given port, or the stable port (any free port if
// that one is busy) when port is 0.
func bindInternal(address string, port int, appID string) (net.Listener, error) {
	if port > 0 {
		ln, err := net.Listen("tcp", net.JoinHostPort(address, strconv.Itoa(port)))
		if err != nil {
			return nil, fmt.Errorf("internal gRPC server: failed to listen on port %d: %w (pick another with --dapr-internal-grpc-port)", port, err)
		}
		return ln, nil
	}
	if ln, err := net.Listen("tcp", net.JoinHostPort(address, strconv.Itoa(stableInternalPort(appID)))); err == nil {
		return ln, nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(address, "0"))
	if err != nil {
		return nil, fmt.Errorf("internal gRPC server: %w", err)
	}
	return ln, nil
}
