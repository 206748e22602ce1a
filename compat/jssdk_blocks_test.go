package compat

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/outrigger/outrigger/compat/harness"
)

// TestJSSDKSecrets runs js/secrets.mjs: client.secret over HTTP and gRPC
// against the secret stores and scopes of startSecrets.
func TestJSSDKSecrets(t *testing.T) {
	t.Parallel()
	node := requireNode(t)
	f := startSecrets(t, "secrets-js-"+uniq(t))
	runNode(t, node, "secrets.mjs", sidecarEnv(f.sc),
		"FILE_STORE="+fileStore,
		"MULTI_STORE="+multiStore,
		"ENV_STORE="+envStore,
		jsonEnv(t, "FILE_BULK", f.fileBulk),
		jsonEnv(t, "MULTI_BULK", f.multiBulk),
		"ENV_TOKEN="+f.envToken,
	)
}

// requireNode finds node and npm and installs the JS dependencies.
func requireNode(t *testing.T) string {
	t.Helper()
	node := requireTool(t, "node")
	installJSDeps(t, requireTool(t, "npm"))
	return node
}

// sidecarEnv points a JS scenario's DaprClient at a sidecar.
func sidecarEnv(sc *harness.Sidecar) []string {
	return []string{
		"DAPR_HOST=127.0.0.1",
		"DAPR_HTTP_PORT=" + strconv.Itoa(sc.HTTPPort),
		"DAPR_GRPC_PORT=" + strconv.Itoa(sc.GRPCPort),
	}
}

// runNode runs a JS scenario script in js/ and fails the test when it
// exits non-zero; its output (one line per scenario) is logged either way.
func runNode(t *testing.T, node, script string, base []string, extra ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = jsDir
	cmd.Env = append(append(os.Environ(), base...), extra...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, out)
	}
	t.Logf("node %s:\n%s", script, out)
}

// TestJSSDKConfiguration runs js/configuration.mjs: client.configuration
// over gRPC (get, subscribeWithKeys, stop) against configuration.redis.
func TestJSSDKConfiguration(t *testing.T) {
	t.Parallel()
	node := requireNode(t)
	f := startConfig(t, "config-js-"+uniq(t))
	runNode(t, node, "configuration.mjs", sidecarEnv(f.sc),
		"STORE_NAME="+configStoreName,
		"KEY_PREFIX="+f.prefix,
		"REDIS_ADDR="+redisAddr,
	)
}

// TestJSSDKLock runs js/lock.mjs: client.lock over HTTP and gRPC against
// lock.sqlite.
func TestJSSDKLock(t *testing.T) {
	t.Parallel()
	node := requireNode(t)
	run := uniq(t)
	sc := harness.Start(t, harness.Options{
		AppID:      "lock-js-" + run,
		Components: []string{lockStores[0].setup(t, "lock-js-"+run)},
	})
	runNode(t, node, "lock.mjs", sidecarEnv(sc), "STORE_NAME="+lockStoreName, "RUN="+run)
}

// TestJSSDKBindings runs js/bindings.mjs: client.binding.send over HTTP and
// gRPC to bindings.localstorage, and a JS DaprServer receiving
// bindings.cron events.
func TestJSSDKBindings(t *testing.T) {
	t.Parallel()
	node := requireNode(t)
	run := uniq(t)
	files, root := filesComponent(t)
	appPort := harness.FreePort(t)
	// The app is the script itself, started after the sidecar: wait only
	// for outbound health; the script waits for full health.
	sc := harness.Start(t, harness.Options{
		AppID: "bind-js-" + run, AppPort: appPort, AppProtocol: "http", WaitOutbound: true,
		Components: []string{files, cronComponents()[0]},
	})
	runNode(t, node, "bindings.mjs", sidecarEnv(sc),
		"APP_PORT="+strconv.Itoa(appPort),
		"FILES_BINDING="+filesBinding,
		"ROOT_PATH="+root,
		"CRON_BINDING="+cronBinding,
		"RUN="+run,
	)
}
