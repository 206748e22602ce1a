//go:build unix

package h1client

import (
	"errors"
	"net"
	"syscall"
)

// peeker looks at an idle connection without blocking: the peer closed
// it if the read sees end of file, and broke the protocol if it sees data
// nobody asked for. One cheap system call spares a request sent into a
// connection the app had already closed (a Node app drops idle ones after
// five seconds). The socket handle and the function RawConn runs are
// taken once per connection, so a check allocates nothing.
type peeker struct {
	raw  syscall.RawConn // nil: the connection has no socket to peek at
	buf  [1]byte
	open bool
	run  func(fd uintptr) bool
}

// init readies p for nc.
func (p *peeker) init(nc net.Conn) {
	sc, ok := nc.(interface {
		SyscallConn() (syscall.RawConn, error)
	})
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	p.raw, p.run = raw, p.peekOnce
}

// peerOpen reports whether the peer may still take a request. Without a
// socket to peek at it says yes; a closed connection then shows when the
// request fails.
func (p *peeker) peerOpen() bool {
	if p.raw == nil {
		return true
	}
	p.open = false
	err := p.raw.Read(p.run)
	return err == nil && p.open
}

func (p *peeker) peekOnce(fd uintptr) bool {
	// Nothing to read (EAGAIN) is the only healthy answer: zero bytes is
	// end of file, and any byte is unasked-for data.
	errno := peekByte(fd, p.buf[:])
	p.open = errno == syscall.EAGAIN || errno == syscall.EWOULDBLOCK
	return true
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
