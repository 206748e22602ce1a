// Package e2e runs the real outrigger binary on free ports and talks to it
// only through the wire API.
package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testutil"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "outrigger-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "outrigger")
	build := exec.Command("go", "build", "-o", binary, "github.com/outrigger/outrigger/cmd/outrigger")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building outrigger:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// Ports handed to sidecars come from below the kernel's ephemeral range
// (32768+ on Linux), so an outgoing connection can never take one between
// freePort and the sidecar's bind; and no port is handed out twice.
const (
	portLow  = 20000
	portHigh = 32000
)

var handedOut sync.Map // port -> struct{}

func freePort(t *testing.T) int {
	t.Helper()
	for range 1000 {
		port := portLow + rand.IntN(portHigh-portLow)
		if _, taken := handedOut.LoadOrStore(port, struct{}{}); taken {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue // in use by something else
		}
		_ = ln.Close()
		return port
	}
	t.Fatal("no free port found")
	return 0
}

type sidecar struct {
	cmd      *exec.Cmd
	out      *testutil.SyncBuffer
	httpPort int
	grpcPort int
	done     chan error
}

func (s *sidecar) url(path string) string {
	return "http://127.0.0.1:" + strconv.Itoa(s.httpPort) + path
}

// start runs `outrigger sidecar` with the given extra args and environment.
func start(t *testing.T, env []string, args ...string) *sidecar {
	t.Helper()
	s := &sidecar{out: &testutil.SyncBuffer{}, httpPort: freePort(t), grpcPort: freePort(t), done: make(chan error, 1)}
	// Metrics are on by default: give each sidecar its own metrics port
	// (a later --metrics-port in args wins).
	all := append([]string{"sidecar", "--dapr-http-port", strconv.Itoa(s.httpPort), "--dapr-grpc-port", strconv.Itoa(s.grpcPort),
		"--metrics-port", strconv.Itoa(freePort(t))}, args...)
	s.cmd = exec.Command(binary, all...)
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			_ = s.cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			t.Logf("sidecar output:\n%s", s.out.String())
		}
	})
	return s
}

// waitStatus polls path until it answers want, or fails after timeout.
func (s *sidecar) waitStatus(t *testing.T, path string, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := 0
	for time.Now().Before(deadline) {
		res, err := http.Get(s.url(path))
		if err == nil {
			last = res.StatusCode
			res.Body.Close()
			if last == want {
				return
			}
		}
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("sidecar exited early (%v) waiting for %s", err, path)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("%s: last status %d, want %d", path, last, want)
}

// exitCode waits for the process and returns its exit code.
func (s *sidecar) exitCode(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-s.done:
		return s.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatal("sidecar did not exit in time")
		return -1
	}
}

func (s *sidecar) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func memoryComponent(name string) string {
	return fmt.Sprintf(`apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: %s
spec:
  type: state.in-memory
  version: v1
  metadata: []
`, name)
}

var _ = context.Background
