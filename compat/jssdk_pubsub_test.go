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

// TestJSSDKPubSub runs js/pubsub.mjs: a DaprServer (HTTP) subscribes behind
// one sidecar, DaprClients over HTTP and gRPC publish through another;
// pubsub.redis connects them.
func TestJSSDKPubSub(t *testing.T) {
	node := requireTool(t, "node")
	npm := requireTool(t, "npm")
	installJSDeps(t, npm)
	prefix := topicPrefix(t)
	useRedis(t, prefix)

	run := uniq(t)
	subID, pubID := "js-sub-"+run, "js-pub-"+run
	appPort := harness.FreePort(t)
	// The app is the script itself, started after the sidecars: wait
	// only for outbound health; the script waits for full health.
	sub := harness.Start(t, harness.Options{
		AppID: subID, AppPort: appPort, AppProtocol: "http", WaitOutbound: true,
		Components: []string{redisPubsub(subID)},
	})
	pub := harness.Start(t, harness.Options{AppID: pubID, Components: []string{redisPubsub(pubID)}})

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "pubsub.mjs")
	cmd.Dir = jsDir
	cmd.Env = append(os.Environ(),
		"DAPR_HOST=127.0.0.1",
		"PUBSUB_NAME="+pubsubName,
		"TOPIC_PREFIX="+prefix,
		"PUB_HTTP_PORT="+strconv.Itoa(pub.HTTPPort),
		"PUB_GRPC_PORT="+strconv.Itoa(pub.GRPCPort),
		"SUB_HTTP_PORT="+strconv.Itoa(sub.HTTPPort),
		"APP_PORT="+strconv.Itoa(appPort),
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node pubsub.mjs: %v\n%s", err, out)
	}
	t.Logf("node pubsub.mjs:\n%s", out)
}
