package harness

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	healthInterval = 20 * time.Millisecond
	healthTimeout  = 10 * time.Second
	stopTimeout    = 10 * time.Second
	// startAttempts covers the small window in which a port picked by
	// FreePort can be taken by someone else before the sidecar binds it.
	startAttempts = 3
)

// Options describe one sidecar.
type Options struct {
	AppID string
	// Components are Component YAML documents, one file each, written to
	// the resources directory.
	Components []string
	// Args are extra daprd flags.
	Args []string

	// AppPort is the port the app listens on (--app-port); 0 = no app.
	AppPort int
	// AppProtocol is --app-protocol (http, grpc, …); empty = the default.
	AppProtocol string
	// InternalGRPCPort is --dapr-internal-grpc-port; 0 = a free port.
	// Set it when another sidecar's name resolution must know it upfront.
	InternalGRPCPort int
	// Config is a Configuration YAML document passed with --config;
	// empty = none.
	Config string
	// Env is added to the sidecar's environment (KEY=value).
	Env []string
	// WaitOutbound makes Start wait for GET /v1.0/healthz/outbound only,
	// for sidecars whose app starts after them (/v1.0/healthz stays 500
	// until the app port answers).
	WaitOutbound bool
}

// Sidecar is a running outrigger sidecar.
type Sidecar struct {
	AppID    string
	HTTPPort int
	GRPCPort int
	// InternalGRPCPort is the sidecar-to-sidecar port.
	InternalGRPCPort int
	// ResourcesDir is the --resources-path directory with the component files.
	ResourcesDir string

	cmd    *exec.Cmd
	cancel context.CancelFunc // kills the process
	out    *syncBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // result of cmd.Wait, valid after done
}

// HTTPBase is the sidecar's HTTP API base URL, e.g. http://127.0.0.1:1234.
func (s *Sidecar) HTTPBase() string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.HTTPPort))
}

// GRPCAddr is the sidecar's gRPC API address.
func (s *Sidecar) GRPCAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.GRPCPort))
}

// Output returns what the sidecar has written to stdout and stderr so far.
func (s *Sidecar) Output() string { return s.out.String() }

// Start launches the binary, waits until GET /v1.0/healthz answers 204 and
// registers a cleanup that stops it with SIGTERM and checks it exits with 0.
func Start(t testing.TB, opts Options) *Sidecar {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	configPath, err := writeConfig(t, opts.Config)
	if err != nil {
		t.Fatalf("write configuration: %v", err)
	}
	for i, doc := range opts.Components {
		name := filepath.Join(dir, fmt.Sprintf("component-%d.yaml", i))
		if err := os.WriteFile(name, []byte(doc), 0o600); err != nil {
			t.Fatalf("write component: %v", err)
		}
	}
	var lastErr error
	for range startAttempts {
		s, err := launch(t, bin, dir, configPath, opts)
		if err == nil {
			return s
		}
		lastErr = err
		if !strings.Contains(s.Output(), "address already in use") {
			break
		}
	}
	t.Fatalf("sidecar %s did not become healthy: %v", opts.AppID, lastErr)
	return nil
}

// launch runs one attempt. On failure the process is gone and its output
// has been logged.
func launch(t testing.TB, bin, dir, configPath string, opts Options) (*Sidecar, error) {
	t.Helper()
	s := &Sidecar{
		AppID:            opts.AppID,
		HTTPPort:         FreePort(t),
		GRPCPort:         FreePort(t),
		InternalGRPCPort: opts.InternalGRPCPort,
		ResourcesDir:     dir,
		out:              &syncBuffer{},
		done:             make(chan struct{}),
	}
	if s.InternalGRPCPort == 0 {
		s.InternalGRPCPort = FreePort(t)
	}
	args := []string{
		"sidecar",
		"--app-id", opts.AppID,
		"--dapr-http-port", strconv.Itoa(s.HTTPPort),
		"--dapr-grpc-port", strconv.Itoa(s.GRPCPort),
		// Fixed defaults (metrics 9090, a hashed internal port) would
		// collide between sidecars running side by side.
		"--dapr-internal-grpc-port", strconv.Itoa(s.InternalGRPCPort),
		"--metrics-port", strconv.Itoa(FreePort(t)),
		"--resources-path", dir,
		"--log-level", "warn",
	}
	args = append(args, appArgs(opts, configPath)...)
	args = append(args, opts.Args...)

	// The context only backs up SIGTERM: cancelling it kills the process
	// when it does not start or does not stop in time.
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.cmd = exec.CommandContext(ctx, bin, args...)
	s.cmd.Stdout = s.out
	s.cmd.Stderr = s.out
	s.cmd.Env = append(os.Environ(), opts.Env...)
	if err := s.cmd.Start(); err != nil {
		cancel()
		return s, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()

	healthPath := "/v1.0/healthz"
	if opts.WaitOutbound {
		healthPath = "/v1.0/healthz/outbound"
	}
	if err := s.waitHealthy(healthPath); err != nil {
		cancel()
		<-s.done
		t.Logf("sidecar %s args %q output:\n%s", opts.AppID, args, s.Output())
		return s, err
	}
	t.Cleanup(func() {
		defer cancel()
		s.stop(t)
	})
	return s, nil
}

// appArgs are the flags for the app channel and the configuration file.
func appArgs(opts Options, configPath string) []string {
	var args []string
	if opts.AppPort != 0 {
		args = append(args, "--app-port", strconv.Itoa(opts.AppPort))
	}
	if opts.AppProtocol != "" {
		args = append(args, "--app-protocol", opts.AppProtocol)
	}
	if configPath != "" {
		args = append(args, "--config", configPath)
	}
	return args
}

// writeConfig writes a Configuration document to its own temp directory,
// away from the resources directory, and returns its path ("" for none).
func writeConfig(t testing.TB, doc string) (string, error) {
	if doc == "" {
		return "", nil
	}
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", p, err)
	}
	return p, nil
}

// WaitHealthy polls GET /v1.0/healthz until it answers 204: for sidecars
// started with WaitOutbound once their app is up.
func (s *Sidecar) WaitHealthy(t testing.TB) {
	t.Helper()
	if err := s.waitHealthy("/v1.0/healthz"); err != nil {
		t.Fatalf("sidecar %s: %v", s.AppID, err)
	}
}

// waitHealthy polls a health endpoint until it answers 204, the process
// exits or the timeout passes.
func (s *Sidecar) waitHealthy(path string) error {
	client := &http.Client{Timeout: time.Second}
	url := s.HTTPBase() + path
	deadline := time.Now().Add(healthTimeout)
	last := "no answer"
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-s.done:
			return fmt.Errorf("process exited early: %v", s.err)
		case <-time.After(healthInterval):
		}
	}
	return fmt.Errorf("GET %s: still %s after %s", url, last, healthTimeout)
}

// stop sends SIGTERM and checks a clean exit. Output is logged when the
// test failed or the exit was not clean, so failures can be diagnosed.
func (s *Sidecar) stop(t testing.TB) {
	t.Helper()
	select {
	case <-s.done:
		t.Errorf("sidecar %s exited before the test ended: %v", s.AppID, s.err)
		t.Logf("sidecar %s output:\n%s", s.AppID, s.Output())
		return
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM sidecar %s: %v", s.AppID, err)
	}
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		s.cancel()
		<-s.done
		t.Errorf("sidecar %s did not exit within %s of SIGTERM", s.AppID, stopTimeout)
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("sidecar %s exit code after SIGTERM = %d (%v), want 0", s.AppID, code, s.err)
	}
	if t.Failed() {
		t.Logf("sidecar %s output:\n%s", s.AppID, s.Output())
	}
}

// FreePort returns a TCP port on the loopback interface that is free now.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 1000 {
		port := portLow + rand.IntN(portHigh-portLow)
		if _, taken := handedOut.LoadOrStore(port, struct{}{}); taken {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue // in use by something else
		}
		_ = l.Close()
		return port
	}
	t.Fatal("free port: none found")
	return 0
}

// Ports are picked below the kernel's ephemeral range (32768 and up): a
// port the kernel handed out with ":0" and got back is soon handed out
// again to some outgoing connection, which then holds it when the sidecar
// or app tries to listen. The range is apart from test/e2e's (20000–32000),
// and a port is never handed out twice in one run.
const (
	portLow  = 12000
	portHigh = 20000
)

var handedOut sync.Map

// syncBuffer is a bytes.Buffer safe for the process's two output pipes and
// the test goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
