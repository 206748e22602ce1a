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

// TestJSSDKInvoke runs js/invoke.mjs: a DaprServer (HTTP) is the callee
// app behind one sidecar and DaprClients over HTTP and gRPC call it through
// another.
func TestJSSDKInvoke(t *testing.T) {
	node := requireTool(t, "node")
	npm := requireTool(t, "npm")
	installJSDeps(t, npm)

	run := uniq(t)
	calleeID, callerID := "js-callee-"+run, "js-caller-"+run
	m := newMesh(t, calleeID, callerID)
	appPort := harness.FreePort(t)
	// The app is the script itself, started after the sidecars: wait
	// only for outbound health; the script waits for full health.
	callee := m.start(t, harness.Options{AppID: calleeID, AppPort: appPort, AppProtocol: "http", WaitOutbound: true})
	caller := m.start(t, harness.Options{AppID: callerID})

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "invoke.mjs")
	cmd.Dir = jsDir
	cmd.Env = append(os.Environ(),
		"DAPR_HOST=127.0.0.1",
		"CALLER_APP_ID="+callerID,
		"CALLER_HTTP_PORT="+strconv.Itoa(caller.HTTPPort),
		"CALLER_GRPC_PORT="+strconv.Itoa(caller.GRPCPort),
		"CALLEE_APP_ID="+calleeID,
		"CALLEE_HTTP_PORT="+strconv.Itoa(callee.HTTPPort),
		"APP_PORT="+strconv.Itoa(appPort),
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node invoke.mjs: %v\n%s", err, out)
	}
	t.Logf("node invoke.mjs:\n%s", out)
}
