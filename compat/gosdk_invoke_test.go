package compat

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	dapr "github.com/dapr/go-sdk/client"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/outrigger/outrigger/compat/harness"
)

// callee is one of the two apps the caller invokes.
type callee struct {
	name string
	id   string
	http bool // app protocol http, else grpc
}

// invokeEnv is what an invocation scenario gets: a Go SDK client on the
// caller's sidecar, and the callee under test.
type invokeEnv struct {
	c        dapr.Client
	caller   *harness.Sidecar
	callerID string
	callee   callee
}

var invokeScenarios = []struct {
	name string
	run  func(t *testing.T, e *invokeEnv)
}{
	{"with-content", goInvokeWithContent},
	{"without-data", goInvokeWithoutData},
	{"custom-content", goInvokeCustomContent},
	{"method-cleaned", goInvokeMethodCleaned},
	{"metadata", goInvokeMetadata},
	{"concurrent", goInvokeConcurrent},
	{"response", goInvokeResponse},
	{"handler-error", goInvokeHandlerError},
	{"unknown-method", goInvokeUnknownMethod},
	{"http-api", httpInvoke},
}

// TestGoSDKInvoke runs service invocation through two sidecars: a caller
// using the Go SDK client, and callee apps written with the Go SDK's HTTP
// and gRPC service packages, each behind its own sidecar.
func TestGoSDKInvoke(t *testing.T) {
	run := uniq(t)
	httpApp := callee{name: "http-app", id: "go-http-callee-" + run, http: true}
	grpcApp := callee{name: "grpc-app", id: "go-grpc-callee-" + run}
	callerID := "go-caller-" + run
	m := newMesh(t, httpApp.id, grpcApp.id, callerID)

	// Apps first: their sidecars wait for the app port, and cleanups run
	// in reverse, so each app outlives its sidecar.
	m.start(t, harness.Options{AppID: httpApp.id, AppPort: startGoHTTPApp(t), AppProtocol: "http"})
	gapp := startGoGRPCApp(t)
	m.start(t, harness.Options{AppID: grpcApp.id, AppPort: gapp.port, AppProtocol: "grpc"})
	caller := m.start(t, harness.Options{AppID: callerID})

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := dapr.NewClientWithAddressContext(ctx, caller.GRPCAddr())
	if err != nil {
		t.Fatalf("connect Go SDK to %s: %v", caller.GRPCAddr(), err)
	}
	t.Cleanup(c.Close)

	for _, ce := range []callee{httpApp, grpcApp} {
		t.Run(ce.name, func(t *testing.T) {
			e := &invokeEnv{c: c, caller: caller, callerID: callerID, callee: ce}
			for _, s := range invokeScenarios {
				t.Run(s.name, func(t *testing.T) { s.run(t, e) })
			}
		})
	}
	t.Run("unknown-app", func(t *testing.T) { goInvokeUnknownApp(t, c, run) })
	t.Run("grpc-proxy", func(t *testing.T) { goGRPCProxy(t, c, gapp, grpcApp.id, callerID) })
}

func goInvokeWithContent(t *testing.T, e *invokeEnv) {
	cases := []struct {
		name, method, verb, query string
		content                   dapr.DataContent
	}{
		{"json-post", "echo", "POST", "",
			dapr.DataContent{Data: []byte(`{"a":1,"s":"x"}`), ContentType: "application/json"}},
		{"text-put-query", "echo?a=1&b=x%20y", "PUT", "a=1&b=x%20y",
			dapr.DataContent{Data: []byte("hello, invoke"), ContentType: "text/plain; charset=utf-8"}},
		{"binary-patch", "echo?k=v", "PATCH", "k=v",
			dapr.DataContent{Data: []byte{0x00, 0xff, 0x10, '"', 0x7f}, ContentType: "application/octet-stream"}},
		{"nested-method", "api/v1/echo?x=1", "POST", "x=1",
			dapr.DataContent{Data: []byte(`"nested"`), ContentType: "application/json"}},
		// Larger than one stream chunk between the sidecars.
		{"1MiB", "echo", "POST", "",
			dapr.DataContent{Data: randomBytes(t, 1<<20), ContentType: "application/octet-stream"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := e.c.InvokeMethodWithContent(callCtx(t), e.callee.id, tc.method, strings.ToLower(tc.verb), &tc.content)
			if err != nil {
				t.Fatalf("InvokeMethodWithContent(%s, %s %s): %v", e.callee.id, tc.verb, tc.method, err)
			}
			got := decodeEcho(t, out)
			want := echoReply{Verb: tc.verb, Query: tc.query, ContentType: tc.content.ContentType, Data: tc.content.Data}
			checkEcho(t, got, want)
		})
	}
}

func goInvokeWithoutData(t *testing.T, e *invokeEnv) {
	for _, verb := range []string{"GET", "DELETE"} {
		t.Run(verb, func(t *testing.T) {
			out, err := e.c.InvokeMethod(callCtx(t), e.callee.id, "echo?only=query", strings.ToLower(verb))
			if err != nil {
				t.Fatalf("InvokeMethod(%s, %s echo): %v", e.callee.id, verb, err)
			}
			// No data: no body and no Content-Type reach the app.
			checkEcho(t, decodeEcho(t, out), echoReply{Verb: verb, Query: "only=query"})
		})
	}
}

func goInvokeCustomContent(t *testing.T, e *invokeEnv) {
	type order struct {
		ID    string   `json:"id"`
		Qty   int      `json:"qty"`
		Items []string `json:"items"`
	}
	in := order{ID: "o-" + uniq(t), Qty: 3, Items: []string{"a", "b"}}
	out, err := e.c.InvokeMethodWithCustomContent(callCtx(t), e.callee.id, "echo", "post", "application/json", in)
	if err != nil {
		t.Fatalf("InvokeMethodWithCustomContent(%s): %v", e.callee.id, err)
	}
	got := decodeEcho(t, out)
	if got.Verb != "POST" || got.ContentType != "application/json" {
		t.Errorf("app saw verb %q content type %q, want POST application/json", got.Verb, got.ContentType)
	}
	var back order
	if err := json.Unmarshal(got.Data, &back); err != nil {
		t.Fatalf("app received %q, not the JSON of the struct: %v", got.Data, err)
	}
	if back.ID != in.ID || back.Qty != in.Qty || strings.Join(back.Items, ",") != "a,b" {
		t.Errorf("app received %+v, want %+v", back, in)
	}
}

// goInvokeMethodCleaned sends methods that only match the app's route once
// path.Clean'ed, as daprd does with every method at the invocation edge
// (duplicate slashes, "." and ".." segments). A leading "/" is kept: an
// HTTP app then sees "/echo", a gRPC app "/echo" as its method name (which
// the go-sdk gRPC service does not route), so that case is HTTP only.
func goInvokeMethodCleaned(t *testing.T, e *invokeEnv) {
	methods := []string{"api//v1/./echo", "api/x/../v1/echo"}
	if e.callee.http {
		methods = append(methods, "/echo")
	}
	for _, m := range methods {
		t.Run(m, func(t *testing.T) {
			data := []byte("clean " + m)
			out, err := e.c.InvokeMethodWithContent(callCtx(t), e.callee.id, m, "post",
				&dapr.DataContent{Data: data, ContentType: "text/plain"})
			if err != nil {
				t.Fatalf("InvokeMethodWithContent(%s, %q): %v", e.callee.id, m, err)
			}
			checkEcho(t, decodeEcho(t, out), echoReply{Verb: "POST", ContentType: "text/plain", Data: data})
		})
	}
}

// goInvokeMetadata checks what the callee sidecar adds (caller and callee
// ids) and that caller gRPC metadata reaches the app.
func goInvokeMetadata(t *testing.T, e *invokeEnv) {
	ctx := metadata.AppendToOutgoingContext(callCtx(t), customHeader, "v-"+e.callee.name)
	out, err := e.c.InvokeMethodWithContent(ctx, e.callee.id, "echo", "post",
		&dapr.DataContent{Data: []byte("m"), ContentType: "text/plain"})
	if err != nil {
		t.Fatalf("InvokeMethodWithContent(%s): %v", e.callee.id, err)
	}
	got := decodeEcho(t, out)
	if got.Caller != e.callerID {
		t.Errorf("app saw dapr-caller-app-id %q, want %q", got.Caller, e.callerID)
	}
	if got.Callee != e.callee.id {
		t.Errorf("app saw dapr-callee-app-id %q, want %q", got.Callee, e.callee.id)
	}
	// Both sidecars run here, so the caller's hostname is ours.
	if host, err := os.Hostname(); err == nil && got.ForwardedHost != host {
		t.Errorf("app saw X-Forwarded-Host %q, want the caller's hostname %q", got.ForwardedHost, host)
	}
	if want := "v-" + e.callee.name; got.Custom != want {
		t.Errorf("app saw %s %q, want the caller's metadata %q", customHeader, got.Custom, want)
	}
}

// goInvokeResponse reads the InvokeResponse the SDK's InvokeMethod hides:
// its content type and, for HTTP apps, the dapr-http-status header.
func goInvokeResponse(t *testing.T, e *invokeEnv) {
	api := runtimev1.NewDaprClient(e.c.GrpcClientConn())
	var header metadata.MD
	resp, err := api.InvokeService(callCtx(t), &runtimev1.InvokeServiceRequest{
		Id: e.callee.id,
		Message: &commonv1.InvokeRequest{
			Method:        "echo",
			Data:          &anypb.Any{Value: []byte("r")},
			ContentType:   "text/plain",
			HttpExtension: &commonv1.HTTPExtension{Verb: commonv1.HTTPExtension_POST},
		},
	}, grpc.Header(&header))
	if err != nil {
		t.Fatalf("InvokeService(%s): %v", e.callee.id, err)
	}
	if resp.GetContentType() != echoContentType {
		t.Errorf("InvokeResponse.content_type = %q, want the app's %q", resp.GetContentType(), echoContentType)
	}
	if got := decodeEcho(t, resp.GetData().GetValue()); !bytes.Equal(got.Data, []byte("r")) {
		t.Errorf("app received %q, want %q", got.Data, "r")
	}
	if e.callee.http {
		if got := header.Get("dapr-http-status"); len(got) != 1 || got[0] != "200" {
			t.Errorf("header dapr-http-status = %q, want [200]", got)
		}
	}
}

func goInvokeHandlerError(t *testing.T, e *invokeEnv) {
	_, err := e.c.InvokeMethodWithContent(callCtx(t), e.callee.id, "fail", "post",
		&dapr.DataContent{Data: []byte("x"), ContentType: "text/plain"})
	if err == nil {
		t.Fatalf("InvokeMethodWithContent(%s, fail) succeeded, want the handler's error", e.callee.id)
	}
	st := status.Convert(err)
	if st.Code() != codes.Unknown {
		t.Errorf("error code = %s (%v), want Unknown", st.Code(), err)
	}
	if !e.callee.http {
		// A gRPC app's status is relayed unchanged.
		if st.Message() != errFail.Error() {
			t.Errorf("error message = %q, want the handler's %q", st.Message(), errFail)
		}
		return
	}
	// An HTTP app's 500 becomes Unknown "Internal Server Error" with the
	// body in ErrorInfo (errors.md §1c).
	if st.Message() != "Internal Server Error" {
		t.Errorf("error message = %q, want %q", st.Message(), "Internal Server Error")
	}
	info := errorInfo(st)
	if info == nil {
		t.Fatalf("error %v has no ErrorInfo detail", err)
	}
	if info.GetMetadata()["http.code"] != "500" || !strings.Contains(info.GetMetadata()["http.error_message"], errFail.Error()) {
		t.Errorf("ErrorInfo metadata = %v, want http.code 500 and the app's body", info.GetMetadata())
	}
}

func goInvokeUnknownMethod(t *testing.T, e *invokeEnv) {
	_, err := e.c.InvokeMethod(callCtx(t), e.callee.id, "no-such-method", "get")
	if err == nil {
		t.Fatalf("InvokeMethod(%s, no-such-method) succeeded, want an error", e.callee.id)
	}
	st := status.Convert(err)
	want := codes.Unknown // the go-sdk gRPC service: "method not implemented"
	if e.callee.http {
		want = codes.NotFound // the app's 404
	}
	if st.Code() != want {
		t.Errorf("error code = %s (%v), want %s", st.Code(), err, want)
	}
}

// goInvokeConcurrent sends calls side by side; each must get its own
// request's echo back.
func goInvokeConcurrent(t *testing.T, e *invokeEnv) {
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			data := fmt.Sprintf("call-%d-%s", i, e.callee.name)
			out, err := e.c.InvokeMethodWithContent(callCtx(t), e.callee.id, "echo", "post",
				&dapr.DataContent{Data: []byte(data), ContentType: "text/plain"})
			if err != nil {
				errs <- fmt.Errorf("call %d: %w", i, err)
				return
			}
			var r echoReply
			if err := json.Unmarshal(out, &r); err != nil || string(r.Data) != data {
				errs <- fmt.Errorf("call %d: got %q (%v), want the echo of %q", i, out, err, data)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func goInvokeUnknownApp(t *testing.T, c dapr.Client, run string) {
	id := "nobody-" + run
	_, err := c.InvokeMethod(callCtx(t), id, "echo", "get")
	if err == nil {
		t.Fatalf("InvokeMethod(%s) succeeded for an app id no resolver knows", id)
	}
	st := status.Convert(err)
	if st.Code() != codes.Internal || !strings.Contains(st.Message(), "failed to invoke, id: "+id) {
		t.Errorf("error = %s %q, want Internal \"failed to invoke, id: %s, err: …\"", st.Code(), st.Message(), id)
	}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random: %v", err)
	}
	return b
}

func errorInfo(st *status.Status) *errdetails.ErrorInfo {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

func decodeEcho(t *testing.T, b []byte) echoReply {
	t.Helper()
	var r echoReply
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("response %q is not the echo app's JSON: %v", b, err)
	}
	return r
}

// checkEcho compares the request fields; metadata is checked on its own.
func checkEcho(t *testing.T, got, want echoReply) {
	t.Helper()
	if got.Verb != want.Verb {
		t.Errorf("app saw verb %q, want %q", got.Verb, want.Verb)
	}
	if got.Query != want.Query {
		t.Errorf("app saw query %q, want %q", got.Query, want.Query)
	}
	if got.ContentType != want.ContentType {
		t.Errorf("app saw content type %q, want %q", got.ContentType, want.ContentType)
	}
	if !bytes.Equal(got.Data, want.Data) {
		t.Errorf("app received %q, want %q", got.Data, want.Data)
	}
}
