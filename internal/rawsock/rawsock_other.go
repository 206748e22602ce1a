//go:build !linux

package rawsock

import "syscall"

// Elsewhere Wrap leaves connections to the net package.
const supported = false

func rawRead(uintptr, []byte) (int, syscall.Errno) { return 0, syscall.EINVAL }

func rawWrite(uintptr, []byte) (int, syscall.Errno) { return 0, syscall.EINVAL }
