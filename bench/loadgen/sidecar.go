package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// store is one state store configuration the sidecar is started with.
type store struct {
	name string // short name used in case names
	typ  string // component spec.type
}

var stores = []store{
	{name: "memory", typ: "state.in-memory"},
	{name: "sqlite", typ: "state.sqlite"},
}

const (
	storeName    = "statestore"
	readyTimeout = 20 * time.Second
	stopTimeout  = 10 * time.Second
)

// sidecar is one running outrigger process with its own ports and temp dir.
type sidecar struct {
	cmd          *exec.Cmd
	dir          string
	httpPort     int
	grpcPort     int
	internalPort int
	profilePort  int
	started      time.Time
	exited       chan struct{} // closed once the process has been waited for
	waitErr      error
	out          *tailBuffer
}

// sidecarOpts says how to start one sidecar beyond the common flags.
type sidecarOpts struct {
	appID     string
	store     *store // the one state store component; nil for none
	profiling bool
	config    string            // Configuration YAML written beside the resources; "" for none
	files     map[string]string // further resource files: name -> YAML
	args      []string          // further flags, e.g. --app-port
	// daprd: the binary is Dapr's daprd, which takes its flags without
	// outrigger's "sidecar" subcommand.
	daprd bool
}

// startSidecar starts a state-suite sidecar: app id "bench" and one store.
func startSidecar(bin string, st store, profiling bool) (*sidecar, error) {
	return launch(bin, sidecarOpts{appID: "bench", store: &st, profiling: profiling})
}

// launch writes the sidecar's temp dir and execs the binary. started is
// taken right before exec, so startup time includes process creation.
func launch(bin string, o sidecarOpts) (*sidecar, error) {
	dir, err := os.MkdirTemp("", "outrigger-bench-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	args, ports, err := sidecarArgs(dir, o)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &sidecar{dir: dir, httpPort: ports[0], grpcPort: ports[1], internalPort: ports[2], profilePort: ports[4],
		exited: make(chan struct{}), out: &tailBuffer{max: 8 << 10}}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout = s.out
	s.cmd.Stderr = s.out
	// If loadgen dies, the sidecar must not outlive it.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	s.started = time.Now()
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	return s, nil
}

// sidecarArgs writes the resources dir (and config) into dir and returns the
// command line and the ports it uses: HTTP, gRPC, internal gRPC, metrics,
// profiling.
func sidecarArgs(dir string, o sidecarOpts) ([]string, []int, error) {
	res, err := writeResources(dir, o.store)
	if err != nil {
		return nil, nil, err
	}
	for name, yaml := range o.files {
		if err := os.WriteFile(filepath.Join(res, name), []byte(yaml), 0o644); err != nil {
			return nil, nil, fmt.Errorf("write %s: %w", name, err)
		}
	}
	ports, err := freePorts(5)
	if err != nil {
		return nil, nil, err
	}
	var args []string
	if !o.daprd {
		args = append(args, "sidecar")
	}
	args = append(args, "--app-id", o.appID,
		"--dapr-http-port", strconv.Itoa(ports[0]),
		"--dapr-grpc-port", strconv.Itoa(ports[1]),
		// Explicit ports so parallel sidecars (and other tests on the
		// machine) never fight over the defaults.
		"--dapr-internal-grpc-port", strconv.Itoa(ports[2]),
		"--metrics-port", strconv.Itoa(ports[3]),
		"--resources-path", res,
		"--log-level", "warn")
	if o.profiling {
		args = append(args, "--enable-profiling", "--profile-port", strconv.Itoa(ports[4]))
	}
	if o.config != "" {
		path := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(path, []byte(o.config), 0o644); err != nil {
			return nil, nil, fmt.Errorf("write config: %w", err)
		}
		args = append(args, "--config", path)
	}
	return append(args, o.args...), ports, nil
}

func (s *sidecar) pid() int { return s.cmd.Process.Pid }

// waitReady polls /v1.0/healthz every millisecond and returns the time from
// exec to the first 204.
func (s *sidecar) waitReady(ctx context.Context) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	url := fmt.Sprintf("http://127.0.0.1:%d/v1.0/healthz", s.httpPort)
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		if ok := healthy(ctx, client, url); ok {
			return time.Since(s.started), nil
		}
		select {
		case <-s.exited:
			return 0, fmt.Errorf("sidecar exited before ready (%v): %s", s.waitErr, s.out.String())
		case <-ctx.Done():
			return 0, fmt.Errorf("sidecar not ready: %w; output: %s", ctx.Err(), s.out.String())
		case <-tick.C:
		}
	}
}

func healthy(ctx context.Context, client *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusNoContent
}

// stop sends SIGTERM and waits; a sidecar that does not stop in time is
// killed and reported, since a hung shutdown is a bug worth seeing.
func (s *sidecar) stop() error {
	defer os.RemoveAll(s.dir)
	select {
	case <-s.exited:
		return fmt.Errorf("sidecar had already exited (%v): %s", s.waitErr, s.out.String())
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("signal sidecar: %w", err)
	}
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("sidecar did not stop within %v of SIGTERM; killed", stopTimeout)
	}
	if s.waitErr != nil {
		return fmt.Errorf("sidecar exit after SIGTERM: %v; output: %s", s.waitErr, s.out.String())
	}
	return nil
}

// kill ends the sidecar with SIGKILL, as a crash would, and waits for it.
func (s *sidecar) kill() error {
	defer os.RemoveAll(s.dir)
	if err := s.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("kill sidecar: %w", err)
	}
	select {
	case <-s.exited:
		return nil
	case <-time.After(stopTimeout):
		return fmt.Errorf("sidecar still running %v after SIGKILL", stopTimeout)
	}
}

// writeResources writes the one state store component, if any, and returns
// the resources dir. An empty dir still matters: without --resources-path
// the sidecar would load the user's own components. The sqlite file lives
// beside the dir, not in it, so the loader only ever sees YAML.
func writeResources(dir string, st *store) (string, error) {
	res := filepath.Join(dir, "resources")
	if err := os.Mkdir(res, 0o755); err != nil {
		return "", fmt.Errorf("resources dir: %w", err)
	}
	if st == nil {
		return res, nil
	}
	md := "  metadata: []\n"
	if st.typ == "state.sqlite" {
		md = "  metadata:\n  - name: connectionString\n    value: \"" + filepath.Join(dir, "state.db") + "\"\n"
	}
	yaml := "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: " + storeName +
		"\nspec:\n  type: " + st.typ + "\n  version: v1\n" + md
	if err := os.WriteFile(filepath.Join(res, "statestore.yaml"), []byte(yaml), 0o644); err != nil {
		return "", fmt.Errorf("write component: %w", err)
	}
	return res, nil
}

// freePorts asks the kernel for n distinct free ports. They are released
// before the sidecar binds them; the window is small enough for a bench.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// supportsProfiling reports whether the sidecar command knows
// --enable-profiling, so an older binary still gets measured.
func supportsProfiling(ctx context.Context, bin string) bool {
	out, _ := exec.CommandContext(ctx, bin, "sidecar", "--help").CombinedOutput()
	return bytes.Contains(out, []byte("--enable-profiling"))
}

// tailBuffer keeps the last max bytes of the sidecar's output for error
// messages, so a chatty sidecar cannot grow loadgen's memory.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) == 0 {
		return "(no output)"
	}
	return string(bytes.TrimSpace(t.buf))
}
