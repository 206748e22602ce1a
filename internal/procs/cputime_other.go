//go:build !unix

package procs

import (
	"errors"
	"time"
)

func processCPUTime() (time.Duration, error) {
	return 0, errors.New("process CPU time is not read on this platform")
}
