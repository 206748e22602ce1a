package apierr

import (
	"net/http"

	"google.golang.org/grpc/codes"
)

// PublishOutbox is ERR_PUBLISH_OUTBOX: a transaction on an outbox store
// could not publish its outbox message, so it was not run.
func PublishOutbox(appID string, err error) *Error {
	return &Error{Code: "ERR_PUBLISH_OUTBOX", HTTPStatus: http.StatusInternalServerError, GRPCCode: codes.Internal,
		Message: "error while publishing outbox message: " + err.Error(), Reason: "DAPR_PUBSUB_OUTBOX",
		Metadata: map[string]string{"appID": appID, "error": err.Error()}}
}
