//go:build !unix

package runner

import (
	"errors"
	"os/exec"
)

// Without Unix process groups the app process itself is the unit we stop.
func newProcessGroup(*exec.Cmd) {}

// terminateGroup has no graceful signal to send on these platforms, so the
// app is killed right away.
func terminateGroup(cmd *exec.Cmd) error { return cmd.Process.Kill() }

func killGroup(cmd *exec.Cmd) error { return cmd.Process.Kill() }

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() >= 0 {
		return ee.ExitCode()
	}
	return 1
}
