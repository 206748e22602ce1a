package testutil

import (
	"os"
	"os/exec"
	"sync"
	"testing"
)

// RunTestProcesses runs the test named test of the current test binary in
// n child processes at once, the i-th with env(i) added to the
// environment, and returns each one's combined output. A child that fails
// fails t, with its output. It is how a test checks what several sidecar
// processes sharing one file do together.
func RunTestProcesses(t *testing.T, n int, test string, env func(i int) []string) []string {
	t.Helper()
	outs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.v")
			cmd.Env = append(os.Environ(), env(i)...)
			out, err := cmd.CombinedOutput()
			outs[i], errs[i] = string(out), err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("process %d of %s: %v\n%s", i, test, err, outs[i])
		}
	}
	return outs
}
