package apierr

import (
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// GRPCAPIBlocked is the status of a gRPC method the Configuration's API
// lists took out: Unimplemented, with the HTTP code Dapr reports for it.
func GRPCAPIBlocked() error {
	st := status.New(codes.Unimplemented, "Not Implemented")
	withInfo, err := st.WithDetails(&errdetails.ErrorInfo{
		Domain:   Domain,
		Metadata: map[string]string{"http.code": "501", "http.error_message": "requested endpoint is not available"},
	})
	if err != nil {
		return st.Err()
	}
	return withInfo.Err()
}
