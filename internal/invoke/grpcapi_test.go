package invoke

import (
	"context"
	"io"
	"strings"
	"testing"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/outrigger/outrigger/internal/appchannel"
)

func TestRequestFromGRPC(t *testing.T) {
	in := &runtimev1.InvokeServiceRequest{
		Id: "target",
		Message: &commonv1.InvokeRequest{
			Method:        "hello",
			Data:          &anypb.Any{TypeUrl: "type.googleapis.com/x.Y", Value: []byte("raw")},
			ContentType:   "application/x-protobuf",
			HttpExtension: &commonv1.HTTPExtension{Verb: commonv1.HTTPExtension_PUT, Querystring: "q=1"},
		},
	}
	md := metadata.Pairs("x-user", "u1", "dapr-api-token", "t", "dapr-app-id", "target", "content-type", "application/grpc", "trace-bin", "\x01\x02")
	req := RequestFromGRPC(in, md)
	m := req.Message.GetMessage()
	if m.GetMethod() != "hello" || m.GetContentType() != "application/x-protobuf" || m.GetHttpExtension().GetQuerystring() != "q=1" {
		t.Errorf("message = %v", m)
	}
	if m.GetData().GetTypeUrl() != "type.googleapis.com/x.Y" || len(m.GetData().GetValue()) != 0 {
		t.Errorf("data = %v, want type URL only", m.GetData())
	}
	b, _ := io.ReadAll(req.Body)
	if string(b) != "raw" {
		t.Errorf("body = %q", b)
	}
	got := req.Message.GetMetadata()
	if firstMD(got, "x-user") != "u1" || firstMD(got, "trace-bin") != "AQI=" {
		t.Errorf("metadata = %v", got)
	}
	for _, k := range []string{"dapr-api-token", "dapr-app-id", "content-type"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s forwarded", k)
		}
	}
}

func TestInvokeServiceResponse(t *testing.T) {
	t.Run("http 200", func(t *testing.T) {
		resp := httpResp(200, "application/json", map[string][]string{"Content-Type": {"application/json"}, "X-Custom": {"c"}, "Connection": {"close"}}, `{"a":1}`)
		out, hdr, _, err := InvokeServiceResponse("app", resp, 0)
		if err != nil {
			t.Fatal(err)
		}
		if string(out.GetData().GetValue()) != `{"a":1}` || out.GetContentType() != "application/json" {
			t.Errorf("response = %v", out)
		}
		want := map[string]string{"dapr-http-status": "200", "dapr-content-type": "application/json", "x-custom": "c"}
		for k, v := range want {
			if got := hdr.Get(k); len(got) != 1 || got[0] != v {
				t.Errorf("header %s = %v, want %s", k, got, v)
			}
		}
		if len(hdr.Get("connection")) > 0 || len(hdr.Get("dapr-connection")) > 0 {
			t.Error("hop-by-hop header relayed")
		}
	})
	t.Run("http 418", func(t *testing.T) {
		_, hdr, _, err := InvokeServiceResponse("app", httpResp(418, "text/plain", nil, "short and stout"), 0)
		st := status.Convert(err)
		if st.Code() != codes.Unknown || st.Message() != "I'm a teapot" {
			t.Fatalf("status = %v", st)
		}
		var info *errdetails.ErrorInfo
		for _, d := range st.Details() {
			if e, ok := d.(*errdetails.ErrorInfo); ok {
				info = e
			}
		}
		if info == nil || info.GetMetadata()["http.code"] != "418" || info.GetMetadata()["http.error_message"] != "short and stout" || info.GetReason() != "I'm a teapot" {
			t.Errorf("error info = %v", info)
		}
		if got := hdr.Get("dapr-http-status"); len(got) != 1 || got[0] != "418" {
			t.Errorf("dapr-http-status = %v", got)
		}
	})
	t.Run("http 400 is Internal", func(t *testing.T) {
		_, _, _, err := InvokeServiceResponse("app", httpResp(400, "", nil, ""), 0)
		if status.Code(err) != codes.Internal {
			t.Errorf("code = %v", status.Code(err))
		}
	})
	t.Run("grpc status relayed", func(t *testing.T) {
		resp := httpResp(int32(codes.NotFound), "", map[string][]string{"x-h": {"1"}}, "")
		resp.Message.Status.Message = "nothing here"
		resp.Message.Trailers = resp.Message.Headers
		_, hdr, trl, err := InvokeServiceResponse("app", resp, 0)
		if st := status.Convert(err); st.Code() != codes.NotFound || st.Message() != "nothing here" {
			t.Errorf("status = %v", st)
		}
		if len(hdr.Get("x-h")) != 1 || len(trl.Get("x-h")) != 1 || len(hdr.Get("dapr-http-status")) != 0 {
			t.Errorf("header = %v, trailer = %v", hdr, trl)
		}
	})
	t.Run("grpc OK keeps type URL", func(t *testing.T) {
		resp := httpResp(int32(codes.OK), "application/x-protobuf", nil, "bytes")
		resp.Message.Message.Data = &anypb.Any{TypeUrl: "type.googleapis.com/x.Y"}
		out, _, _, err := InvokeServiceResponse("app", resp, 0)
		if err != nil {
			t.Fatal(err)
		}
		if out.GetData().GetTypeUrl() != "type.googleapis.com/x.Y" || string(out.GetData().GetValue()) != "bytes" {
			t.Errorf("data = %v", out.GetData())
		}
	})
	t.Run("body over limit", func(t *testing.T) {
		_, _, _, err := InvokeServiceResponse("app", httpResp(200, "", nil, "0123456789"), 4)
		if err == nil || status.Code(err) != codes.Internal {
			t.Errorf("err = %v", err)
		}
	})
}

// TestInvokeServiceThroughPeer runs a gRPC API InvokeService call through
// both sidecars to a gRPC app: data type URLs survive the streamed hop.
func TestInvokeServiceThroughPeer(t *testing.T) {
	var sawType, sawBody, sawMeta string
	app := funcChannel(func(_ context.Context, req *appchannel.Request) (*appchannel.Response, error) {
		sawType = req.Message.GetMessage().GetData().GetTypeUrl()
		b, _ := io.ReadAll(req.Body)
		sawBody = string(b)
		sawMeta = firstMD(req.Message.GetMetadata(), "x-user")
		return &appchannel.Response{
			Message: &internalsv1.InternalInvokeResponse{
				Status:  &internalsv1.Status{Code: int32(codes.OK)},
				Headers: map[string]*internalsv1.ListStringValue{"x-reply": {Values: []string{"r"}}},
				Message: &commonv1.InvokeResponse{ContentType: "application/x-protobuf", Data: &anypb.Any{TypeUrl: "type.googleapis.com/out.T"}},
			},
			Body: io.NopCloser(strings.NewReader("out-bytes")),
		}, nil
	})
	addr := serve(t, NewServer(app, nil))
	inv := newCaller(t, map[string]string{"grpcapp": addr}, nil)
	in := &runtimev1.InvokeServiceRequest{Id: "grpcapp", Message: &commonv1.InvokeRequest{
		Method: "Do", Data: &anypb.Any{TypeUrl: "type.googleapis.com/in.T", Value: []byte("in-bytes")}}}
	resp, err := inv.Invoke(context.Background(), in.GetId(), RequestFromGRPC(in, metadata.Pairs("x-user", "u")))
	if err != nil {
		t.Fatal(err)
	}
	out, hdr, _, err := InvokeServiceResponse(in.GetId(), resp, 0)
	if err != nil {
		t.Fatal(err)
	}
	if sawType != "type.googleapis.com/in.T" || sawBody != "in-bytes" || sawMeta != "u" {
		t.Errorf("app saw %q %q %q", sawType, sawBody, sawMeta)
	}
	if out.GetData().GetTypeUrl() != "type.googleapis.com/out.T" || string(out.GetData().GetValue()) != "out-bytes" || out.GetContentType() != "application/x-protobuf" {
		t.Errorf("response = %v", out)
	}
	if got := hdr.Get("x-reply"); len(got) != 1 || got[0] != "r" {
		t.Errorf("header = %v", hdr)
	}
}
