//go:build !unix

package h1client

import "net"

// peeker cannot peek here; a connection the peer closed is found when the
// request fails, and replayable requests are sent again.
type peeker struct{}

func (*peeker) init(net.Conn) {}

func (*peeker) peerOpen() bool { return true }

func isReset(error) bool { return false }
