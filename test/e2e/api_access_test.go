package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// TestAPIAllowList runs a sidecar whose Configuration allows only the
// state API over HTTP and gRPC: other routes are gone (a plain 404, since
// invocation is gone too) and other gRPC methods are Unimplemented.
func TestAPIAllowList(t *testing.T) {
	cfgDir := t.TempDir()
	writeFile(t, cfgDir, "config.yaml", `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: allowlist
spec:
  api:
    allowed:
    - name: state
      version: v1.0
      protocol: http
    - name: state
      version: v1
      protocol: grpc
`)
	dir := blkResources(t, memoryComponent("store"), blkComponent("ps", "pubsub.in-memory", nil))
	s := blkStart(t, blkSidecar{appID: blkUnique("acl"), resources: dir, config: filepath.Join(cfgDir, "config.yaml")})[0]

	if r := blkCall(t, "POST", s.url("/v1.0/state/store"), `[{"key":"k","value":1}]`); r.status != 204 {
		t.Fatalf("save state: %d %s", r.status, r.body)
	}
	r := blkCall(t, "POST", s.url("/v1.0/publish/ps/topic"), `{}`)
	if r.status != 404 || !strings.Contains(string(r.body), "404 page not found") {
		t.Fatalf("publish through a removed route: %d %q, want the router's plain 404", r.status, r.body)
	}
	if r := blkCall(t, "GET", s.url("/v1.0/metadata"), ""); r.status != 404 {
		t.Fatalf("metadata through a removed route: %d, want 404", r.status)
	}
	if r := blkCall(t, "GET", s.url("/v1.0/healthz"), ""); r.status != 204 {
		t.Fatalf("healthz must stay: %d", r.status)
	}

	conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(s.grpcPort), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := runtimev1.NewDaprClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := client.GetState(ctx, &runtimev1.GetStateRequest{StoreName: "store", Key: "k"}); err != nil {
		t.Fatalf("GetState must be allowed: %v", err)
	}
	_, err = client.PublishEvent(ctx, &runtimev1.PublishEventRequest{PubsubName: "ps", Topic: "t", Data: []byte("{}")})
	if st := status.Convert(err); st.Code() != codes.Unimplemented || st.Message() != "Not Implemented" {
		t.Fatalf("PublishEvent: %v, want Unimplemented \"Not Implemented\"", err)
	}
}

// TestAPILoggingJSON checks the API log lines in Dapr's JSON schema, with
// obfuscated URLs from the Configuration.
func TestAPILoggingJSON(t *testing.T) {
	cfgDir := t.TempDir()
	writeFile(t, cfgDir, "config.yaml", `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: apilog
spec:
  logging:
    apiLogging:
      enabled: true
      obfuscateURLs: true
      omitHealthChecks: true
`)
	dir := blkResources(t, memoryComponent("store"))
	appID := blkUnique("apilog")
	s := blkStart(t, blkSidecar{appID: appID, resources: dir, config: filepath.Join(cfgDir, "config.yaml"), args: []string{"--log-as-json"}})[0]
	if r := blkCall(t, "POST", s.url("/v1.0/state/store"), `[{"key":"secret-key","value":1}]`); r.status != 204 {
		t.Fatalf("save state: %d %s", r.status, r.body)
	}
	conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(s.grpcPort), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := runtimev1.NewDaprClient(conn).GetState(ctx, &runtimev1.GetStateRequest{StoreName: "store", Key: "secret-key"}); err != nil {
		t.Fatal(err)
	}
	var httpLine, grpcLine map[string]any
	ok := blkWaitFor(10*time.Second, func() bool {
		httpLine, grpcLine = nil, nil
		for _, line := range strings.Split(s.out.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) != nil {
				continue
			}
			switch rec["msg"] {
			case "HTTP API Called":
				httpLine = rec
			case "gRPC API Called":
				grpcLine = rec
			}
		}
		return httpLine != nil && grpcLine != nil
	})
	if !ok {
		t.Fatalf("no API log lines in:\n%s", s.out.String())
	}
	want := map[string]any{"method": "POST /v1.0/state/{storeName}", "scope": "dapr.runtime.http-info", "type": "log", "app_id": appID, "level": "info"}
	for k, v := range want {
		if httpLine[k] != v {
			t.Errorf("HTTP API line: %s = %v, want %v (%v)", k, httpLine[k], v, httpLine)
		}
	}
	if grpcLine["method"] != "/dapr.proto.runtime.v1.Dapr/GetState" || grpcLine["scope"] != "dapr.runtime.grpc-info" {
		t.Errorf("gRPC API line: %v", grpcLine)
	}
	if strings.Contains(s.out.String(), "healthz") {
		t.Errorf("health checks were logged despite omitHealthChecks")
	}
}
