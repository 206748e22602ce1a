package compat

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// jsDir holds the JS SDK scenarios, package.json and package-lock.json.
const jsDir = "js"

// npmCI installs the locked JS dependencies once per test process.
var npmCI struct {
	once sync.Once
	out  []byte
	err  error
}

// TestJSSDKState runs js/state.mjs with the official JS SDK over HTTP and
// gRPC against each store.
func TestJSSDKState(t *testing.T) {
	node := requireTool(t, "node")
	npm := requireTool(t, "npm")
	installJSDeps(t, npm)

	for _, st := range stateStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			appID := "jssdk-" + st.name + "-" + uniq(t)
			sc := startStore(t, appID, st)
			for _, protocol := range []string{"http", "grpc"} {
				t.Run(protocol, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
					defer cancel()
					cmd := exec.CommandContext(ctx, node, "state.mjs", protocol)
					cmd.Dir = jsDir
					cmd.Env = append(os.Environ(),
						"DAPR_HOST=127.0.0.1",
						"DAPR_HTTP_PORT="+strconv.Itoa(sc.HTTPPort),
						"DAPR_GRPC_PORT="+strconv.Itoa(sc.GRPCPort),
						"APP_ID="+appID,
						"STORE_NAME="+storeName,
						"STORE_TYPE="+st.typ,
						"EXPECT_CAPABILITIES="+strings.Join(st.capabilities, ","),
					)
					out, err := cmd.CombinedOutput()
					if err != nil {
						t.Errorf("node state.mjs %s: %v\n%s", protocol, err, out)
						return
					}
					t.Logf("node state.mjs %s:\n%s", protocol, out)
				})
			}
		})
	}
}

// requireTool finds a program on PATH; without it the JS scenarios cannot
// run, which fails CI and skips local runs.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found on PATH; the JS SDK scenarios need Node.js 20+ with npm", name)
	}
	t.Skipf("%s not found on PATH; install Node.js 20+ with npm to run the JS SDK scenarios", name)
	return ""
}

// installJSDeps runs `npm ci` when node_modules is missing or older than
// package-lock.json (npm writes node_modules/.package-lock.json on install).
func installJSDeps(t *testing.T, npm string) {
	t.Helper()
	if !jsDepsStale() {
		return
	}
	npmCI.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = jsDir
		npmCI.out, npmCI.err = cmd.CombinedOutput()
	})
	if npmCI.err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", jsDir, npmCI.err, npmCI.out)
	}
}

func jsDepsStale() bool {
	lock, err := os.Stat(filepath.Join(jsDir, "package-lock.json"))
	if err != nil {
		return true
	}
	installed, err := os.Stat(filepath.Join(jsDir, "node_modules", ".package-lock.json"))
	if err != nil {
		return true
	}
	return installed.ModTime().Before(lock.ModTime())
}
