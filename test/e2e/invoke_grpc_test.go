package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
)

// testService is the target app's own gRPC server. UnaryCall echoes the
// payload, answers the requested status, sleeps for metadata x-sleep-ms
// and returns metadata it received as response headers.
type testService struct {
	testpb.UnimplementedTestServiceServer
	sawDeadline atomic.Bool
}

func (s *testService) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	echo := metadata.MD{}
	for _, k := range []string{"x-custom", "dapr-caller-app-id", "dapr-callee-app-id"} {
		echo.Set("echo-"+k, md.Get(k)...)
	}
	if err := grpc.SetHeader(ctx, echo); err != nil {
		return nil, err
	}
	if err := grpc.SetTrailer(ctx, metadata.Pairs("x-trailer", "t1")); err != nil {
		return nil, err
	}
	if v := md.Get("x-sleep-ms"); len(v) > 0 {
		if _, ok := ctx.Deadline(); ok {
			s.sawDeadline.Store(true)
		}
		ms, _ := strconv.Atoi(v[0])
		select {
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		case <-time.After(time.Duration(ms) * time.Millisecond):
		}
	}
	if st := req.GetResponseStatus(); st.GetCode() != 0 {
		return nil, status.Error(codes.Code(st.GetCode()), st.GetMessage())
	}
	return &testpb.SimpleResponse{Payload: req.GetPayload()}, nil
}

// sized answers one ResponseParameters entry: Size bytes of value i.
func sized(i int, p *testpb.ResponseParameters) *testpb.StreamingOutputCallResponse {
	return &testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: bytes.Repeat([]byte{byte(i)}, int(p.GetSize()))}}
}

func (s *testService) StreamingOutputCall(req *testpb.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	for i, p := range req.GetResponseParameters() {
		if err := stream.Send(sized(i, p)); err != nil {
			return err
		}
	}
	return nil
}

func (s *testService) FullDuplexCall(stream grpc.BidiStreamingServer[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]) error {
	for i := 0; ; i++ {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, p := range req.GetResponseParameters() {
			if err := stream.Send(sized(i, p)); err != nil {
				return err
			}
		}
	}
}

// grpcApp serves svc on 127.0.0.1:0 and returns the port.
func grpcApp(t *testing.T, svc testpb.TestServiceServer) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	testpb.RegisterTestServiceServer(srv, svc)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return ln.Addr().(*net.TCPAddr).Port
}

// dial opens a plain gRPC client connection to a sidecar's API port.
func dial(t *testing.T, s *sidecar) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(s.grpcPort), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func TestInvokeGRPCProxy(t *testing.T) {
	svc := &testService{}
	ia, ib := freePort(t), freePort(t)
	cfg := staticConfig(t, map[string][]int{"svc-a": {ia}, "svc-b": {ib}})
	s := startPeers(t,
		peer{appID: "svc-a", internal: ia, config: cfg},
		peer{appID: "svc-b", internal: ib, appPort: grpcApp(t, svc), config: cfg, args: []string{"--app-protocol", "grpc"}},
	)
	client := testpb.NewTestServiceClient(dial(t, s[0]))
	toB := func(ctx context.Context, kv ...string) context.Context {
		return metadata.AppendToOutgoingContext(ctx, append([]string{"dapr-app-id", "svc-b"}, kv...)...)
	}

	t.Run("unary with metadata", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var hdr, trailer metadata.MD
		res, err := client.UnaryCall(toB(ctx, "x-custom", "hello"), &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("ping")}},
			grpc.Header(&hdr), grpc.Trailer(&trailer))
		if err != nil {
			t.Fatal(err)
		}
		if string(res.GetPayload().GetBody()) != "ping" {
			t.Errorf("payload %q", res.GetPayload().GetBody())
		}
		want := map[string]string{"echo-x-custom": "hello", "echo-dapr-caller-app-id": "svc-a", "echo-dapr-callee-app-id": "svc-b"}
		for k, v := range want {
			if got := hdr.Get(k); len(got) != 1 || got[0] != v {
				t.Errorf("app saw %s = %v, want %q", k[len("echo-"):], got, v)
			}
		}
		if got := trailer.Get("x-trailer"); len(got) != 1 || got[0] != "t1" {
			t.Errorf("trailer x-trailer = %v, want t1", got)
		}
	})

	t.Run("server streaming", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sizes := []int32{1, 100, 64 << 10, 7}
		req := &testpb.StreamingOutputCallRequest{}
		for _, n := range sizes {
			req.ResponseParameters = append(req.ResponseParameters, &testpb.ResponseParameters{Size: n})
		}
		stream, err := client.StreamingOutputCall(toB(ctx), req)
		if err != nil {
			t.Fatal(err)
		}
		for i, n := range sizes {
			res, err := stream.Recv()
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			if b := res.GetPayload().GetBody(); len(b) != int(n) || (n > 0 && b[0] != byte(i)) {
				t.Fatalf("message %d: %d bytes, want %d of %d", i, len(b), n, i)
			}
		}
		if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
			t.Fatalf("after the last message: %v, want EOF", err)
		}
	})

	t.Run("bidi streaming", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stream, err := client.FullDuplexCall(toB(ctx))
		if err != nil {
			t.Fatal(err)
		}
		// Strictly one request, then its answer, so the proxy must relay
		// each message as it comes rather than at the end of the stream.
		for i := range 5 {
			size := int32(10 * (i + 1))
			if err := stream.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: size}}}); err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
			res, err := stream.Recv()
			if err != nil {
				t.Fatalf("recv %d: %v", i, err)
			}
			if b := res.GetPayload().GetBody(); len(b) != int(size) || b[0] != byte(i) {
				t.Fatalf("recv %d: %d bytes of %d, want %d of %d", i, len(b), b[0], size, i)
			}
		}
		if err := stream.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
			t.Fatalf("after CloseSend: %v, want EOF", err)
		}
	})

	t.Run("deadline propagates", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		began := time.Now()
		_, err := client.UnaryCall(toB(ctx, "x-sleep-ms", "3000"), &testpb.SimpleRequest{})
		if status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("err %v, want DeadlineExceeded", err)
		}
		if took := time.Since(began); took > time.Second {
			t.Fatalf("took %v", took)
		}
		if !svc.sawDeadline.Load() {
			t.Fatal("the app's context had no deadline")
		}
	})

	t.Run("app status", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := client.UnaryCall(toB(ctx), &testpb.SimpleRequest{ResponseStatus: &testpb.EchoStatus{Code: int32(codes.NotFound), Message: "no such order: 42"}})
		st := status.Convert(err)
		if st.Code() != codes.NotFound || st.Message() != "no such order: 42" || len(st.Details()) != 0 {
			t.Fatalf("status %v %q", st.Code(), st.Message())
		}
	})
}

// TestInvokeServiceGRPCToHTTPApp calls an HTTP app through the deprecated
// Dapr.InvokeService method.
func TestInvokeServiceGRPCToHTTPApp(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/greet":
		case "/teapot":
			http.Error(w, "short and stout", http.StatusTeapot)
			return
		default:
			http.Error(w, "nope", http.StatusNotFound)
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, r.Method+" "+r.URL.RawQuery+" hello "+string(body))
	})
	ia, ib := freePort(t), freePort(t)
	cfg := staticConfig(t, map[string][]int{"svc-a": {ia}, "svc-b": {ib}})
	s := startPeers(t,
		peer{appID: "svc-a", internal: ia, config: cfg},
		peer{appID: "svc-b", internal: ib, appPort: httpApp(t, app), config: cfg},
	)
	client := runtimev1.NewDaprClient(dial(t, s[0]))
	invoke := func(method string, hdr *metadata.MD) (*commonv1.InvokeResponse, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return client.InvokeService(ctx, &runtimev1.InvokeServiceRequest{Id: "svc-b", Message: &commonv1.InvokeRequest{
			Method: method, Data: &anypb.Any{Value: []byte("grpc")}, ContentType: "text/plain",
			HttpExtension: &commonv1.HTTPExtension{Verb: commonv1.HTTPExtension_POST, Querystring: "lang=en"},
		}}, grpc.Header(hdr))
	}

	var hdr metadata.MD
	res, err := invoke("greet", &hdr)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.GetData().GetValue()); got != "POST lang=en hello grpc" || res.GetContentType() != "text/plain" {
		t.Fatalf("data %q content type %q", got, res.GetContentType())
	}
	if got := hdr.Get("dapr-http-status"); len(got) != 1 || got[0] != "200" {
		t.Errorf("dapr-http-status %v, want 200", got)
	}

	for _, tt := range []struct {
		method, httpStatus string
		code               codes.Code
		message            string
	}{
		{"missing", "404", codes.NotFound, "Not Found"},
		{"teapot", "418", codes.Unknown, "I'm a teapot"},
	} {
		t.Run(tt.method, func(t *testing.T) {
			var hdr metadata.MD
			_, err := invoke(tt.method, &hdr)
			if st := status.Convert(err); st.Code() != tt.code || st.Message() != tt.message {
				t.Errorf("status %v %q, want %v %q", st.Code(), st.Message(), tt.code, tt.message)
			}
			if got := hdr.Get("dapr-http-status"); len(got) != 1 || got[0] != tt.httpStatus {
				t.Errorf("dapr-http-status %v, want %s", got, tt.httpStatus)
			}
		})
	}
}
