//go:build unix && !linux

package h1client

import (
	"errors"
	"syscall"
)

// peekByte peeks at one byte without blocking.
func peekByte(fd uintptr, buf []byte) syscall.Errno {
	_, _, err := syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return 0
}
