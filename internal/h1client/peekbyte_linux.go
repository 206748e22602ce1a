package h1client

import (
	"syscall"
	"unsafe"
)

// peekByte peeks at one byte without blocking. It is a raw system call:
// the socket never blocks here, and a plain call lets the runtime hand the
// processor to another thread meanwhile (see package rawsock).
func peekByte(fd uintptr, buf []byte) syscall.Errno {
	_, _, errno := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)),
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	return errno
}
