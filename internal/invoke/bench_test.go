package invoke

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"

	"github.com/outrigger/outrigger/internal/appchannel"
	"github.com/outrigger/outrigger/internal/testutil"
)

// BenchmarkInvokeRemote is one small invocation through both sidecars'
// invocation layers (caller Invoker, loopback, callee Server) to an app
// that answers at once: the part of the per-request cost this package
// owns. grpc is the way to a Dapr sidecar, peer the way between Outrigger
// sidecars, peer-local that way on the callee's local socket (same host).
// Serial calls one at a time, as a sidecar at a moderate rate sees them;
// parallel keeps GOMAXPROCS callers busy. cpu-ns/op is both sides' CPU.
func BenchmarkInvokeRemote(b *testing.B) {
	for _, way := range []string{"grpc", "peer", "peer-local"} {
		for _, parallel := range []bool{false, true} {
			name := way + "/serial"
			if parallel {
				name = way + "/parallel"
			}
			b.Run(name, func(b *testing.B) { benchmarkInvokeRemote(b, way, parallel) })
		}
	}
}

func benchmarkInvokeRemote(b *testing.B, way string, parallel bool) {
	app := funcChannel(func(_ context.Context, req *appchannel.Request) (*appchannel.Response, error) {
		if req.Body != nil {
			_, _ = io.Copy(io.Discard, req.Body)
		}
		return &appchannel.Response{
			Message: &internalsv1.InternalInvokeResponse{
				Status:  &internalsv1.Status{Code: 200},
				Headers: map[string]*internalsv1.ListStringValue{"Content-Type": {Values: []string{"application/json"}}},
				Message: &commonv1.InvokeResponse{ContentType: "application/json"},
			},
			Body: io.NopCloser(strings.NewReader(`{"ok":true}`)),
		}, nil
	})
	var addr string
	switch way {
	case "grpc":
		addr = serve(b, NewServer(app, nil))
	case "peer":
		addr = servePeer(b, NewServer(app, nil))
	case "peer-local":
		addr = servePeerLocal(b, NewServer(app, nil))
	}
	inv := New(Config{AppID: "caller", Namespace: "ns1", Resolver: &staticResolver{addrs: map[string]string{"callee": addr}}, HostAddress: "192.0.2.2", Hostname: "vm"})
	defer inv.Close()
	if way != "grpc" {
		waitPeer(b, inv, addr)
		if local := callsLocalSocket(b, inv, addr); local != (way == "peer-local") {
			b.Fatalf("calls on the local socket: %v", local)
		}
	}
	hr, _ := http.NewRequest(http.MethodPost, "http://localhost/v1.0/invoke/callee/method/m", nil)
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("User-Agent", "bench")
	body := []byte(`{"order":1}`)
	call := func(buf []byte) bool {
		req := RequestFromHTTP(hr, "m")
		req.Body = strings.NewReader(string(body))
		resp, err := inv.Invoke(context.Background(), "callee", req)
		if err != nil {
			b.Error(err)
			return false
		}
		for {
			if _, err := resp.Body.Read(buf); err != nil {
				break
			}
		}
		resp.Body.Close()
		return true
	}
	b.ReportAllocs()
	cpu := testutil.CPUTime()
	b.ResetTimer()
	if parallel {
		b.RunParallel(func(pb *testing.PB) {
			buf := make([]byte, 256)
			for pb.Next() && call(buf) {
			}
		})
	} else {
		buf := make([]byte, 256)
		for b.Loop() && call(buf) {
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(testutil.CPUTime()-cpu)/float64(b.N), "cpu-ns/op")
}
