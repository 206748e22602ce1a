package e2e

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// internalCalls is how many CallLocalStream and peer hello calls the
// sidecar with metrics on port served over gRPC.
func internalCalls(t *testing.T, port int) (stream, hello float64) {
	t.Helper()
	fams, err := scrape(t, port)
	if err != nil {
		t.Fatal(err)
	}
	stream, _ = sample(fams, "dapr_grpc_io_server_completed_rpcs", map[string]string{"grpc_server_method": "/dapr.proto.internals.v1.ServiceInvocation/CallLocalStream"})
	hello, _ = sample(fams, "dapr_grpc_io_server_completed_rpcs", map[string]string{"grpc_server_method": "/outrigger.internal.v1.Peer/Hello"})
	return stream, hello
}

// TestInvokeBetweenOutriggerSidecarsUsesPeerProtocol: once the callee has
// answered the hello, calls leave gRPC and behave as before.
func TestInvokeBetweenOutriggerSidecarsUsesPeerProtocol(t *testing.T) {
	ia, ib, mb := freePort(t), freePort(t), freePort(t)
	cfg := staticConfig(t, map[string][]int{"peer-a": {ia}, "peer-b": {ib}})
	s := startPeers(t,
		peer{appID: "peer-a", internal: ia, appPort: httpApp(t, echoApp("a")), config: cfg},
		peer{appID: "peer-b", internal: ib, appPort: httpApp(t, echoApp("b")), config: cfg, args: []string{"--metrics-port", strconv.Itoa(mb)}},
	)
	a := s[0]
	invoke := func(path string) response {
		return call(t, "POST", a.url("/v1.0/invoke/peer-b/method/"+path), "hello", map[string]string{"Content-Type": "text/plain"})
	}

	// The first call asks peer-b in the background and goes over gRPC.
	deadline := time.Now().Add(15 * time.Second)
	for {
		if r := invoke("warmup"); r.status != http.StatusOK {
			t.Fatalf("warm-up call: %d %s", r.status, r.body)
		}
		if _, hello := internalCalls(t, mb); hello >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("peer-a never asked peer-b whether it speaks the peer protocol")
		}
		time.Sleep(20 * time.Millisecond)
	}
	before, _ := internalCalls(t, mb)

	for i := range 20 {
		e := decodeEcho(t, invoke("orders/"+strconv.Itoa(i)))
		if e.App != "b" || e.Path != "/orders/"+strconv.Itoa(i) || e.Body != "hello" || e.Header.Get("Dapr-Caller-App-Id") != "peer-a" {
			t.Fatalf("call %d reached %q %q with body %q, caller %q", i, e.App, e.Path, e.Body, e.Header.Get("Dapr-Caller-App-Id"))
		}
	}
	r := call(t, "GET", a.url("/v1.0/invoke/peer-b/method/teapot"), "", nil)
	if r.status != http.StatusTeapot || string(r.body) != "short and stout" || r.header.Get("X-Brew") != "earl grey" || len(r.header.Values("Set-Cookie")) != 2 {
		t.Errorf("teapot: %d %q %v", r.status, r.body, r.header)
	}

	// At most one call was still in flight over gRPC when the answer came.
	if after, _ := internalCalls(t, mb); after-before > 1 {
		t.Errorf("%v of 21 calls after the hello went over gRPC", after-before)
	}
}
