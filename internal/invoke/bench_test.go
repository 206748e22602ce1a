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
)

// BenchmarkInvokeRemote is one small invocation through both sidecars'
// invocation layers (caller Invoker, loopback, callee Server) to an app
// that answers at once: the part of the per-request cost this package
// owns. grpc is the way to a Dapr sidecar, peer the way between Outrigger
// sidecars.
func BenchmarkInvokeRemote(b *testing.B) {
	b.Run("grpc", func(b *testing.B) { benchmarkInvokeRemote(b, false) })
	b.Run("peer", func(b *testing.B) { benchmarkInvokeRemote(b, true) })
}

func benchmarkInvokeRemote(b *testing.B, peer bool) {
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
	if peer {
		addr = servePeer(b, NewServer(app, nil))
	} else {
		addr = serve(b, NewServer(app, nil))
	}
	inv := New(Config{AppID: "caller", Namespace: "ns1", Resolver: &staticResolver{addrs: map[string]string{"callee": addr}}, HostAddress: "192.0.2.2", Hostname: "vm"})
	defer inv.Close()
	if peer {
		waitPeer(b, inv, addr)
	}
	hr, _ := http.NewRequest(http.MethodPost, "http://localhost/v1.0/invoke/callee/method/m", nil)
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("User-Agent", "bench")
	body := []byte(`{"order":1}`)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 256)
		for pb.Next() {
			req := RequestFromHTTP(hr, "m")
			req.Body = strings.NewReader(string(body))
			resp, err := inv.Invoke(context.Background(), "callee", req)
			if err != nil {
				b.Error(err)
				return
			}
			for {
				if _, err := resp.Body.Read(buf); err != nil {
					break
				}
			}
			resp.Body.Close()
		}
	})
}
