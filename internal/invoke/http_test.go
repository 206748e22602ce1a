package invoke

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/outrigger/outrigger/internal/appchannel"
)

func TestRequestFromHTTP(t *testing.T) {
	r := httptest.NewRequest(http.MethodPatch, "/v1.0/invoke/app/method/orders/1?a=1&b=%20x", strings.NewReader("payload"))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Custom", "one")
	r.Header.Add("X-Custom", "two")
	r.Header.Set("Dapr-App-Id", "app")
	r.Header.Set("Dapr-Api-Token", "secret")
	r.Header.Set("Connection", "keep-alive, X-Hop")
	r.Header.Set("X-Hop", "nominated")
	r.Header.Set("Keep-Alive", "timeout=5")
	r.Header.Set("Te", "trailers")
	r.Header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")

	req := RequestFromHTTP(r, "orders/1")
	m := req.Message.GetMessage()
	if m.GetMethod() != "orders/1" || m.GetContentType() != "application/json" {
		t.Errorf("method/content type = %q/%q", m.GetMethod(), m.GetContentType())
	}
	if ext := m.GetHttpExtension(); ext.GetVerb() != commonv1.HTTPExtension_PATCH || ext.GetQuerystring() != "a=1&b=%20x" {
		t.Errorf("http extension = %v", ext)
	}
	md := req.Message.GetMetadata()
	if got := md["x-custom"].GetValues(); len(got) != 2 || got[0] != "one" || got[1] != "two" {
		t.Errorf("x-custom = %v", got)
	}
	if firstMD(md, "traceparent") == "" {
		t.Error("traceparent not forwarded")
	}
	for _, k := range []string{"dapr-app-id", "dapr-api-token", "connection", "x-hop", "keep-alive", "te"} {
		if _, ok := md[k]; ok {
			t.Errorf("metadata %q forwarded", k)
		}
	}
	// Kept, as daprd keeps it: a gRPC app sees it as dapr-content-type.
	if got := firstMD(md, "content-type"); got != "application/json" {
		t.Errorf("metadata content-type = %q", got)
	}
	for k := range md {
		if k != strings.ToLower(k) {
			t.Errorf("key %q is not lower-case", k)
		}
	}
	b, _ := io.ReadAll(req.Body)
	if string(b) != "payload" {
		t.Errorf("body = %q", b)
	}

	get := RequestFromHTTP(httptest.NewRequest(http.MethodGet, "/x", nil), "x")
	if get.Body != nil {
		t.Error("GET without body has a body")
	}
	if v := get.Message.GetMessage().GetHttpExtension().GetVerb(); v != commonv1.HTTPExtension_GET {
		t.Errorf("verb = %v", v)
	}
}

func httpResp(code int32, ct string, headers map[string][]string, body string) *appchannel.Response {
	md := map[string]*internalsv1.ListStringValue{}
	for k, v := range headers {
		md[k] = &internalsv1.ListStringValue{Values: v}
	}
	return &appchannel.Response{
		Message: &internalsv1.InternalInvokeResponse{
			Status:  &internalsv1.Status{Code: code},
			Headers: md,
			Message: &commonv1.InvokeResponse{ContentType: ct},
		},
		Body: io.NopCloser(strings.NewReader(body)),
	}
}

func TestWriteHTTP(t *testing.T) {
	notFound, _ := anypb.New(&errdetails.ErrorInfo{Reason: "NOPE", Domain: "app"})
	tests := []struct {
		name       string
		resp       *appchannel.Response
		wantCode   int
		wantBody   string
		wantHeader map[string]string
		noHeader   []string
		wantFlush  bool
	}{
		{
			name:       "http 404 with body and headers",
			resp:       httpResp(404, "text/plain", map[string][]string{"X-App": {"a"}, "Transfer-Encoding": {"chunked"}, "Connection": {"close"}}, "no such order"),
			wantCode:   404,
			wantBody:   "no such order",
			wantHeader: map[string]string{"X-App": "a", "Content-Type": "text/plain"},
			noHeader:   []string{"Transfer-Encoding", "Connection"},
		},
		{
			name:     "http 500 body verbatim",
			resp:     httpResp(500, "application/json", nil, `{"error":"boom"}`),
			wantCode: 500,
			wantBody: `{"error":"boom"}`,
		},
		{
			name:     "http without content type is not sniffed",
			resp:     httpResp(200, "", nil, "<html></html>"),
			wantCode: 200,
			wantBody: "<html></html>",
			noHeader: []string{"Content-Type"},
		},
		{
			name:       "grpc OK",
			resp:       httpResp(int32(codes.OK), "application/json", map[string][]string{"x-meta": {"m"}, "content-type": {"application/grpc"}, "trace-bin": {"\x00"}}, `{"ok":true}`),
			wantCode:   200,
			wantBody:   `{"ok":true}`,
			wantHeader: map[string]string{"X-Meta": "m", "Content-Type": "application/json"},
			noHeader:   []string{"Trace-Bin"},
		},
		{
			name: "grpc NotFound as JSON status",
			resp: func() *appchannel.Response {
				r := httpResp(int32(codes.NotFound), "", nil, "ignored")
				r.Message.Status.Message = "missing"
				r.Message.Status.Details = []*anypb.Any{notFound}
				return r
			}(),
			wantCode:   404,
			wantBody:   `{"code":5,"message":"missing","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"NOPE","domain":"app"}]}`,
			wantHeader: map[string]string{"Content-Type": "application/json"},
		},
		{
			name:     "grpc FailedPrecondition is 400",
			resp:     httpResp(int32(codes.FailedPrecondition), "", nil, ""),
			wantCode: 400,
			wantBody: `{"code":9}`,
		},
		{
			name:       "event stream is flushed",
			resp:       httpResp(200, "text/event-stream", nil, "data: 1\n\n"),
			wantCode:   200,
			wantBody:   "data: 1\n\n",
			wantHeader: map[string]string{"Content-Type": "text/event-stream"},
			wantFlush:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if err := WriteHTTP(rec, tt.resp); err != nil {
				t.Fatal(err)
			}
			if rec.Code != tt.wantCode {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantCode)
			}
			if got := strings.ReplaceAll(rec.Body.String(), " ", ""); got != strings.ReplaceAll(tt.wantBody, " ", "") {
				t.Errorf("body = %q, want %q", rec.Body.String(), tt.wantBody)
			}
			for k, v := range tt.wantHeader {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			for _, k := range tt.noHeader {
				if v, ok := rec.Header()[k]; ok && len(v) > 0 {
					t.Errorf("header %s = %q, want none", k, v)
				}
			}
			if rec.Flushed != tt.wantFlush {
				t.Errorf("flushed = %v", rec.Flushed)
			}
		})
	}
}

// TestWriteHTTPFlushesDeclaredLength: a response whose length the header
// declares reaches the client before the handler returns; one without
// keeps its length computed by net/http rather than going chunked.
func TestWriteHTTPFlushesDeclaredLength(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]*internalsv1.ListStringValue
		early   bool // the client has the whole body while the handler still runs
	}{
		{"declared length", map[string]*internalsv1.ListStringValue{"content-length": {Values: []string{"5"}}}, true},
		{"no declared length", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				resp := &appchannel.Response{
					Message: &internalsv1.InternalInvokeResponse{Status: &internalsv1.Status{Code: 200}, Headers: tc.headers},
					Body:    io.NopCloser(strings.NewReader("hello")),
				}
				if err := WriteHTTP(w, resp); err != nil {
					t.Error(err)
				}
				<-release // bookkeeping after the handler's work
			}))
			defer srv.Close()
			defer close(release)
			got := make(chan *http.Response, 1)
			go func() {
				resp, err := http.Get(srv.URL)
				if err != nil {
					t.Error(err)
					close(got)
					return
				}
				got <- resp
			}()
			// Waiting for what must happen is generous; for what must not,
			// a short look suffices.
			wait := 200 * time.Millisecond
			if tc.early {
				wait = 10 * time.Second
			}
			select {
			case resp := <-got:
				if !tc.early {
					t.Fatal("the response went out before the handler returned, so without a computed length")
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != "hello" || resp.ContentLength != 5 || len(resp.TransferEncoding) != 0 {
					t.Fatalf("body %q, length %d, transfer encoding %v", b, resp.ContentLength, resp.TransferEncoding)
				}
			case <-time.After(wait):
				if tc.early {
					t.Fatal("the response with a declared length waited for the handler to return")
				}
				release <- struct{}{}
				resp := <-got
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != "hello" || resp.ContentLength != 5 {
					t.Fatalf("body %q, length %d", b, resp.ContentLength)
				}
			}
		})
	}
}
