package apierr

import (
	"fmt"
	"net/http"
	"strconv"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
)

// --- service invocation ---

// DirectInvoke is ERR_DIRECT_INVOKE for a call that could not be made or
// was cut off: resolution, transport, app channel or peer failures.
func DirectInvoke(appID string, err error) *Error {
	return legacy("ERR_DIRECT_INVOKE", http.StatusInternalServerError, codes.Internal,
		fmt.Sprintf("failed to invoke, id: %s, err: %v", appID, err))
}

// DirectInvokeForbidden is ERR_DIRECT_INVOKE when the callee's access
// control policy denied the call (the peer answered PermissionDenied).
func DirectInvokeForbidden(appID string, err error) *Error {
	return legacy("ERR_DIRECT_INVOKE", http.StatusForbidden, codes.PermissionDenied,
		fmt.Sprintf("failed to invoke, id: %s, err: %v", appID, err))
}

// InvokeNotReady is ERR_DIRECT_INVOKE before service invocation is wired.
func InvokeNotReady() *Error {
	return legacy("ERR_DIRECT_INVOKE", http.StatusInternalServerError, codes.Internal, "invoke API is not ready")
}

// MalformedResponse is ERR_MALFORMED_RESPONSE: a gRPC app's status could
// not be turned into JSON for an HTTP caller.
func MalformedResponse(err error) *Error {
	return legacy("ERR_MALFORMED_RESPONSE", http.StatusInternalServerError, codes.Internal, err.Error())
}

// maxHTTPErrorMessage bounds ErrorInfo's http.error_message, as daprd does.
const maxHTTPErrorMessage = 63

// FromHTTPStatus is the gRPC error daprd derives from an HTTP status (an
// HTTP app's non-2xx answer seen by a gRPC caller, token and allow-list
// failures): code from CodeFromHTTPStatus, message and reason the status
// text, ErrorInfo metadata http.code and http.error_message (detail,
// truncated to 63 bytes).
func FromHTTPStatus(httpStatus int, detail string) *Error {
	text := http.StatusText(httpStatus)
	return &Error{
		HTTPStatus: httpStatus,
		GRPCCode:   CodeFromHTTPStatus(httpStatus),
		Message:    text,
		Reason:     text,
		Metadata: map[string]string{
			"http.code":          strconv.Itoa(httpStatus),
			"http.error_message": truncateUTF8(detail, maxHTTPErrorMessage),
		},
	}
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
