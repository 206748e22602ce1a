package apierr

import (
	"net/http"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
)

func TestHTTPStatusFromCode(t *testing.T) {
	want := map[codes.Code]int{
		codes.OK: 200, codes.Canceled: 408, codes.Unknown: 500, codes.InvalidArgument: 400, codes.DeadlineExceeded: 504,
		codes.NotFound: 404, codes.AlreadyExists: 409, codes.PermissionDenied: 403, codes.Unauthenticated: 401,
		codes.ResourceExhausted: 429, codes.FailedPrecondition: 400, codes.Aborted: 409, codes.OutOfRange: 400,
		codes.Unimplemented: 501, codes.Internal: 500, codes.Unavailable: 503, codes.DataLoss: 500, codes.Code(99): 500,
	}
	for c, s := range want {
		if got := HTTPStatusFromCode(c); got != s {
			t.Errorf("HTTPStatusFromCode(%v) = %d, want %d", c, got, s)
		}
	}
}

func TestCodeFromHTTPStatus(t *testing.T) {
	want := map[int]codes.Code{
		200: codes.OK, 204: codes.OK, 299: codes.OK, 408: codes.Canceled, 500: codes.Unknown, 400: codes.Internal,
		504: codes.DeadlineExceeded, 404: codes.NotFound, 409: codes.AlreadyExists, 403: codes.PermissionDenied,
		401: codes.Unauthenticated, 429: codes.ResourceExhausted, 501: codes.Unimplemented, 503: codes.Unavailable,
		418: codes.Unknown, 302: codes.Unknown,
	}
	for s, c := range want {
		if got := CodeFromHTTPStatus(s); got != c {
			t.Errorf("CodeFromHTTPStatus(%d) = %v, want %v", s, got, c)
		}
	}
}

func TestFromHTTPStatus(t *testing.T) {
	e := FromHTTPStatus(http.StatusTeapot, strings.Repeat("é", 40))
	st := e.GRPCStatus()
	if st.Code() != codes.Unknown || st.Message() != "I'm a teapot" {
		t.Fatalf("status = %v", st)
	}
	info, ok := st.Details()[0].(*errdetails.ErrorInfo)
	if !ok {
		t.Fatalf("details = %v", st.Details())
	}
	msg := info.GetMetadata()["http.error_message"]
	if info.GetReason() != "I'm a teapot" || info.GetDomain() != Domain || info.GetMetadata()["http.code"] != "418" ||
		len(msg) > 63 || !strings.HasPrefix(strings.Repeat("é", 40), msg) {
		t.Errorf("error info = %v", info)
	}
}

func TestDirectInvoke(t *testing.T) {
	tests := []struct {
		e        *Error
		status   int
		code     codes.Code
		wantBody string
	}{
		{DirectInvoke("app", errTest("boom")), 500, codes.Internal, `{"errorCode":"ERR_DIRECT_INVOKE","message":"failed to invoke, id: app, err: boom"}`},
		{DirectInvokeForbidden("app", errTest("denied")), 403, codes.PermissionDenied, `{"errorCode":"ERR_DIRECT_INVOKE","message":"failed to invoke, id: app, err: denied"}`},
		{InvokeNotReady(), 500, codes.Internal, `{"errorCode":"ERR_DIRECT_INVOKE","message":"invoke API is not ready"}`},
	}
	for _, tt := range tests {
		if tt.e.HTTPStatus != tt.status || tt.e.GRPCCode != tt.code || string(tt.e.HTTPBody()) != tt.wantBody {
			t.Errorf("%d %v %s", tt.e.HTTPStatus, tt.e.GRPCCode, tt.e.HTTPBody())
		}
	}
}

type errTest string

func (e errTest) Error() string { return string(e) }
