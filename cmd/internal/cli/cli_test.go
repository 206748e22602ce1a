package cli

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/logging"
	"github.com/outrigger/outrigger/internal/version"
)

// execute runs a command line through root and returns the exit code and
// everything written to stdout and stderr.
func execute(t *testing.T, args ...string) (int, string) {
	t.Helper()
	root := NewRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	code := Execute(root, args)
	return code, out.String()
}

func TestSidecarCommandWithoutStarting(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
	}{
		{"version", []string{"sidecar", "--version"}, 0, []string{version.Runtime() + "\n"}},
		{"version single dash via alias", []string{"daprd", "-version"}, 0, []string{version.Runtime()}},
		{"build info", []string{"sidecar", "--build-info"}, 0, []string{"Version: " + version.Runtime(), "Git Commit: ", "Git Version: "}},
		{"help", []string{"sidecar", "--help"}, 0, []string{"--app-id", "--dapr-http-port", "not yet honoured"}},
		{"short help", []string{"sidecar", "-h"}, 0, []string{"--resources-path"}},
		{"unknown flag", []string{"sidecar", "--app-id", "x", "--bogus"}, 1, []string{"bogus"}},
		{"bad value", []string{"sidecar", "-app-id", "x", "-app-protocol", "ftp"}, 1, []string{"--app-protocol", "ftp"}},
		{"bad port", []string{"sidecar", "--app-id", "x", "--dapr-http-port", "http"}, 1, []string{"--dapr-http-port"}},
		{"positional argument", []string{"sidecar", "--app-id", "x", "extra"}, 1, []string{"extra"}},
		{"missing app id", []string{"sidecar"}, 1, []string{"--app-id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := execute(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d; output:\n%s", code, tt.wantCode, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestDaprdRoot(t *testing.T) {
	root := NewDaprd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	if code := Execute(root, []string{"--version"}); code != 0 || out.String() != version.Runtime()+"\n" {
		t.Errorf("daprd --version = %d, %q", code, out.String())
	}
}

func TestUnknownCommandFlag(t *testing.T) {
	code, out := execute(t, "init", "--bogus")
	if code == 0 || !strings.Contains(out, "bogus") || !strings.Contains(out, "outrigger init --help") {
		t.Errorf("init --bogus = %d, %q", code, out)
	}
}

func TestExitCodeError(t *testing.T) {
	root := NewRoot()
	root.AddCommand(&cobraCmdExit7)
	if code := Execute(root, []string{"exit7"}); code != 7 {
		t.Errorf("exit code = %d, want 7", code)
	}
}

func TestInit(t *testing.T) {
	home := t.TempDir()
	t.Setenv("OUTRIGGER_HOME", home)
	code, out := execute(t, "init")
	if code != 0 || !strings.Contains(out, filepath.Join(home, "config.yaml")) || !strings.Contains(out, "statestore.yaml") {
		t.Fatalf("init = %d, %q", code, out)
	}
	code, out = execute(t, "init")
	if code != 0 || !strings.Contains(out, "already present") {
		t.Errorf("second init = %d, %q", code, out)
	}
	code, out = execute(t, "init", "--force")
	if code != 0 || !strings.Contains(out, "Wrote") {
		t.Errorf("init --force = %d, %q", code, out)
	}
}

func TestRunFlagsAndDefaults(t *testing.T) {
	home := t.TempDir()
	t.Setenv("OUTRIGGER_HOME", home)
	cmd := newRunCommand()
	flags := cmd.Flags()
	if err := flags.Parse([]string{"-a", "myapp", "-p", "3000", "-H", "3601", "-G", "50011", "-M", "9191", "--", "node", "app.js", "--port", "3000"}); err != nil {
		t.Fatal(err)
	}
	if got := flags.Args(); strings.Join(got, " ") != "node app.js --port 3000" {
		t.Errorf("app command = %q", got)
	}
	var out bytes.Buffer
	if err := applyRunDefaults(flags, &out); err != nil {
		t.Fatal(err)
	}
	rp, _ := flags.GetStringSlice("resources-path")
	cfg, _ := flags.GetStringSlice("config")
	if len(rp) != 1 || rp[0] != filepath.Join(home, "components") {
		t.Errorf("resources-path = %q", rp)
	}
	if len(cfg) != 1 || cfg[0] != filepath.Join(home, "config.yaml") {
		t.Errorf("config = %q", cfg)
	}
	if _, err := os.Stat(filepath.Join(home, "components", "statestore.yaml")); err != nil {
		t.Errorf("defaults not written: %v", err)
	}
	id, _ := flags.GetString("app-id")
	http, _ := flags.GetString("dapr-http-port")
	if id != "myapp" || http != "3601" {
		t.Errorf("explicit flags changed: app-id %q, http port %q", id, http)
	}
}

func TestRunInterspersedAppArgs(t *testing.T) {
	cmd := newRunCommand()
	if err := cmd.Flags().Parse([]string{"--app-id", "x", "python", "app.py", "-v"}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cmd.Flags().Args(), " "); got != "python app.py -v" {
		t.Errorf("app command = %q", got)
	}
}

func TestPickPorts(t *testing.T) {
	busy, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port

	cmd := newRunCommand()
	flags := cmd.Flags()
	if err := flags.Parse([]string{"--dapr-grpc-port", "50011"}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	table := []portDefault{{"dapr-http-port", busyPort}, {"dapr-grpc-port", busyPort}}
	if err := pickPorts(flags, &out, table); err != nil {
		t.Fatal(err)
	}
	http, _ := flags.GetString("dapr-http-port")
	grpc, _ := flags.GetString("dapr-grpc-port")
	if http == strconv.Itoa(busyPort) || http == "" {
		t.Errorf("http port = %s; the preferred port %d is busy", http, busyPort)
	}
	if grpc != "50011" {
		t.Errorf("explicit grpc port replaced by %s", grpc)
	}
	if !strings.Contains(out.String(), "not available") {
		t.Errorf("no notice printed: %q", out.String())
	}
}

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(&buf, "warn", true)
	log.Info("hidden")
	log.Warn("shown", "k", "v")
	log.Log(t.Context(), logging.LevelFatal, "boom")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["level"] != "fatal" || rec["msg"] != "boom" || rec["type"] != "log" || rec["scope"] != "dapr.runtime" {
		t.Errorf("fatal record = %v", rec)
	}

	buf.Reset()
	newLogger(&buf, "debug", false).Debug("text line")
	if !strings.Contains(buf.String(), "level=debug") || !strings.Contains(buf.String(), `msg="text line"`) {
		t.Errorf("text log = %q", buf.String())
	}
}

func TestDefaultAppID(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "My.Service")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	if got := defaultAppID(); got != "my-service" {
		t.Errorf("defaultAppID() = %q, want my-service", got)
	}
}
