//go:build !linux

package invoke

import "net"

// localSockets: without Linux's abstract namespace there is no local
// socket (see peerlocal.go); calls between sidecars stay on TCP.
const localSockets = false

// ListenLocal returns no listener: see localSockets.
func ListenLocal() (net.Listener, string, error) { return nil, "", nil }
