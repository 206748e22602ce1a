//go:build !unix

package h1client

import "net"

// peerOpen cannot peek here; a connection the peer closed is found when
// the request fails, and replayable requests are sent again.
func peerOpen(net.Conn) bool { return true }

func isReset(error) bool { return false }
