package testutil

import (
	"syscall"
	"time"
)

// CPUTime is the process's user and system CPU time so far: benchmarks
// report CPU per operation from it, which a noisy machine bends less than
// wall time.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
