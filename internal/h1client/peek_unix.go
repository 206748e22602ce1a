//go:build unix

package h1client

import (
	"errors"
	"net"
	"syscall"
)

// peerOpen peeks at an idle connection without blocking: the peer closed
// it if the read sees end of file, and broke the protocol if it sees data
// nobody asked for. One cheap system call spares a request sent into a
// connection the app had already closed (a Node app drops idle ones after
// five seconds).
func peerOpen(nc net.Conn) bool {
	sc, ok := nc.(interface {
		SyscallConn() (syscall.RawConn, error)
	})
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	open := false
	var buf [1]byte
	err = raw.Read(func(fd uintptr) bool {
		// Nothing to read (EAGAIN) is the only healthy answer: zero bytes
		// is end of file, and any byte is unasked-for data.
		errno := peekByte(fd, buf[:])
		open = errno == syscall.EAGAIN || errno == syscall.EWOULDBLOCK
		return true
	})
	return err == nil && open
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
