package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"

	"github.com/outrigger/outrigger/internal/testutil"
)

// Helpers of the secrets, configuration, lock and bindings tests
// (blocks_*_test.go). Names start with blk so they never collide with the
// other files of the package.

const blkRedisAddr = "127.0.0.1:6379"

// blkUnique returns prefix followed by 12 random hex digits, so names
// (app ids, keys, resources) never collide between runs.
func blkUnique(prefix string) string {
	return prefix + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
}

// blkComponent renders a Component YAML with plain metadata values, in a
// stable order.
func blkComponent(name, typ string, meta map[string]string) string {
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: %s\nspec:\n  type: %s\n  version: v1\n", name, typ)
	if len(keys) == 0 {
		b.WriteString("  metadata: []\n")
		return b.String()
	}
	b.WriteString("  metadata:\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "  - name: %s\n    value: %s\n", k, strconv.Quote(meta[k]))
	}
	return b.String()
}

// blkResources writes the documents into a new directory and returns it.
func blkResources(t *testing.T, docs ...string) string {
	t.Helper()
	dir := t.TempDir()
	for i, d := range docs {
		writeFile(t, dir, "r"+strconv.Itoa(i)+".yaml", d)
	}
	return dir
}

// blkSidecar says how to start one sidecar of these tests.
type blkSidecar struct {
	appID     string
	resources string   // --resources-path
	appPort   int      // 0 = no app
	config    string   // --config path, "" = none
	env       []string // extra environment
	args      []string // extra flags
}

// blkStart starts the sidecars one after the other, each healthy before
// the next picks its ports (a port freePort returns is only free until
// someone binds it).
func blkStart(t *testing.T, specs ...blkSidecar) []*sidecar {
	t.Helper()
	out := make([]*sidecar, len(specs))
	for i, sp := range specs {
		out[i] = blkLaunch(t, sp)
		out[i].waitStatus(t, "/v1.0/healthz", 204, 15*time.Second)
	}
	return out
}

// blkLaunch is start with four distinct ports: calling freePort three
// times can hand out one port twice, and a sidecar told to listen twice on
// one port retries for 10 s before it gives up.
func blkLaunch(t *testing.T, sp blkSidecar) *sidecar {
	t.Helper()
	ports := blkPorts(t, 4)
	s := &sidecar{out: &testutil.SyncBuffer{}, httpPort: ports[0], grpcPort: ports[1], done: make(chan error, 1)}
	args := []string{"sidecar", "--dapr-http-port", strconv.Itoa(ports[0]), "--dapr-grpc-port", strconv.Itoa(ports[1]),
		"--dapr-internal-grpc-port", strconv.Itoa(ports[2]), "--metrics-port", strconv.Itoa(ports[3]),
		"--app-id", sp.appID, "--resources-path", sp.resources}
	if sp.appPort > 0 {
		args = append(args, "--app-port", strconv.Itoa(sp.appPort))
	}
	if sp.config != "" {
		args = append(args, "--config", sp.config)
	}
	s.cmd = exec.Command(binary, append(args, sp.args...)...)
	s.cmd.Env = append(os.Environ(), sp.env...)
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
			t.Logf("sidecar %s output:\n%s", sp.appID, s.out.String())
		}
	})
	return s
}

// blkPorts returns n distinct free ports (freePort never repeats one).
func blkPorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	for range n {
		ports = append(ports, freePort(t))
	}
	return ports
}

// blkClient is shared by the tests' concurrent workers: enough idle
// connections per sidecar that a loop of requests reuses them.
var blkClient = &http.Client{
	Timeout:   15 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 32},
}

// blkDo sends one request and reads the answer; unlike call it returns
// errors, so worker goroutines can use it.
func blkDo(ctx context.Context, method, url, body string) (response, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return response{}, fmt.Errorf("new request: %w", err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := blkClient.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: reading body: %w", method, url, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}, nil
}

// blkCall is blkDo for the test goroutine: a transport error fails the test.
func blkCall(t *testing.T, method, url, body string) response {
	t.Helper()
	r, err := blkDo(context.Background(), method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// blkJSON decodes an answer that must have status want into v.
func blkJSON(t *testing.T, r response, want int, v any) {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d; body %s", r.status, want, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body is not the expected JSON: %v: %s", err, r.body)
	}
}

// blkWantError checks a Dapr error answer's status and errorCode, and
// that its message contains each of parts.
func blkWantError(t *testing.T, r response, status int, code string, parts ...string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d; body %s", r.status, status, r.body)
		return
	}
	got, msg := daprError(t, r)
	if got != code {
		t.Errorf("errorCode %q, want %q (message %q)", got, code, msg)
	}
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("message %q lacks %q", msg, p)
		}
	}
}

// blkRedis returns a client of the local Redis, skipping (or failing in
// CI) when it is not running.
func blkRedis(t *testing.T) *goredis.Client {
	t.Helper()
	testutil.RequireService(t, "Redis", blkRedisAddr)
	c := goredis.NewClient(&goredis.Options{Addr: blkRedisAddr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// blkWaitFor polls cond every 20 ms until it holds or timeout passes.
func blkWaitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
