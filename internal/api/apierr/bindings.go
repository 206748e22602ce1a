package apierr

import (
	"fmt"
	"net/http"

	"google.golang.org/grpc/codes"
)

// --- bindings ---

// InvokeOutputBinding is ERR_INVOKE_OUTPUT_BINDING: the legacy two-field
// body over HTTP; over gRPC an ErrorInfo whose reason is the code.
func InvokeOutputBinding(name string, err error) *Error {
	return &Error{Code: "ERR_INVOKE_OUTPUT_BINDING", HTTPStatus: http.StatusInternalServerError, GRPCCode: codes.Internal,
		Message: fmt.Sprintf("error invoking output binding %s: %v", name, err), Reason: "ERR_INVOKE_OUTPUT_BINDING", GRPCOnlyDetails: true}
}

// MalformedRequestData is ERR_MALFORMED_REQUEST_DATA: the binding request's
// data could not be encoded again (HTTP only).
func MalformedRequestData(err error) *Error {
	return legacy("ERR_MALFORMED_REQUEST_DATA", http.StatusInternalServerError, codes.Internal, "can't serialize request data field: "+err.Error())
}

// InvalidBaggage is the 400 ERR_MALFORMED_REQUEST for a baggage header
// that is not W3C baggage.
func InvalidBaggage(err error) *Error {
	return legacy("ERR_MALFORMED_REQUEST", http.StatusBadRequest, codes.InvalidArgument, "invalid baggage header: "+err.Error())
}
