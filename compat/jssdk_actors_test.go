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

// TestJSSDKActors runs js/actors.mjs: a DaprServer hosts CompatJsCounter
// behind one sidecar, ActorProxyBuilder clients over HTTP and gRPC call it
// through a second sidecar; both use a placement started here.
func TestJSSDKActors(t *testing.T) {
	node := requireTool(t, "node")
	npm := requireTool(t, "npm")
	installJSDeps(t, npm)
	placement := startPlacement(t)

	run := uniq(t)
	appPort := harness.FreePort(t)
	placementArgs := []string{"--placement-host-address", placement}
	// The app is the script itself, started after the sidecars: wait only
	// for outbound health; the script waits for full health.
	host := harness.Start(t, harness.Options{
		AppID: "jsactors-" + run, AppPort: appPort, AppProtocol: "http", WaitOutbound: true,
		Components: []string{actorStateStore(t)}, Args: placementArgs,
	})
	caller := harness.Start(t, harness.Options{
		AppID: "jsactorcaller-" + run, Components: []string{actorStateStore(t)}, Args: placementArgs,
	})

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "actors.mjs")
	cmd.Dir = jsDir
	cmd.Env = append(os.Environ(),
		"DAPR_HOST=127.0.0.1",
		"DAPR_HTTP_PORT="+strconv.Itoa(host.HTTPPort),
		"APP_PORT="+strconv.Itoa(appPort),
		"CALLER_HTTP_PORT="+strconv.Itoa(caller.HTTPPort),
		"CALLER_GRPC_PORT="+strconv.Itoa(caller.GRPCPort),
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node actors.mjs: %v\n%s", err, out)
	}
	t.Logf("node actors.mjs:\n%s", out)
}
