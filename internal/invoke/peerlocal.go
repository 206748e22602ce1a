package invoke

import (
	"context"
	"net"
	"strings"
	"time"
)

// Peers on the same host: a sidecar also serves the peer protocol on a
// Unix-domain socket and names it in its hello answer. A caller that can
// connect to that name sends its calls there. A loopback TCP write runs
// the TCP/IP stack for both ends; a Unix-domain write only queues the
// bytes for the receiver.
//
// The socket lives in Linux's abstract namespace, which belongs to a
// network namespace and has no file: nothing is left behind by a crash,
// and a sidecar in another network namespace (another container, another
// host) never reaches it, so a caller that can connect shares the peer's
// loopback anyway. The name's 128 random bits keep sidecars apart.
// Elsewhere there is no local socket and calls stay on TCP.
const localSocketPrefix = "outrigger-peer-"

// localHostSuffix marks a call to a local socket in its URL, whose host
// is the name's random part, this suffix and port 0. The .invalid
// top-level domain never resolves, so no real peer address ends so.
const localHostSuffix = ".local-peer.invalid"

// localProbeTimeout bounds the test connection to an advertised socket.
const localProbeTimeout = time.Second

// localSocketID returns the random part of an advertised socket name, and
// whether the name is one a sidecar advertises.
func localSocketID(name string) (string, bool) {
	id, ok := strings.CutPrefix(name, localSocketPrefix)
	if !ok || len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		return "", false
	}
	return id, true
}

// localSocketAddress is the address to dial for a socket name.
func localSocketAddress(name string) string { return "@" + name }

// reachableLocal reports whether the peer's advertised socket name can be
// connected to from here, and the URL host to call it by.
func reachableLocal(ctx context.Context, name string) (string, bool) {
	id, ok := localSocketID(name)
	if !ok || !localSockets {
		return "", false
	}
	ctx, cancel := context.WithTimeout(ctx, localProbeTimeout)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(ctx, "unix", localSocketAddress(name))
	if err != nil {
		return "", false
	}
	_ = c.Close()
	// With a port, as every peer address has: a URL host without one
	// costs the transports a failed split and a join per call.
	return id + localHostSuffix + ":0", true
}
