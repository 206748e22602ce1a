package apierr

import (
	"fmt"
	"net/http"

	"google.golang.org/grpc/codes"
)

// --- configuration ---
//
// Configuration errors are rich: an ErrorInfo whose reason repeats the
// error code, with no metadata. Unsubscribe failures and the missing app
// channel are plain.

// CodeConfigurationUnsubscribe is the code of a failed unsubscribe; over
// HTTP its message goes into {"ok":false,"message":…}.
const CodeConfigurationUnsubscribe = "ERR_CONFIGURATION_UNSUBSCRIBE"

func configurationErr(code string, httpStatus int, grpc codes.Code, msg string) *Error {
	return &Error{Code: code, HTTPStatus: httpStatus, GRPCCode: grpc, Message: msg, Reason: code, NullMetadata: true}
}

// ConfigurationNotConfigured is returned when no configuration store is loaded.
func ConfigurationNotConfigured() *Error {
	return configurationErr("ERR_CONFIGURATION_STORE_NOT_CONFIGURED", http.StatusInternalServerError, codes.FailedPrecondition,
		"configuration stores not configured")
}

// ConfigurationNotFound is returned for an unknown store name.
func ConfigurationNotFound(store string) *Error {
	return configurationErr("ERR_CONFIGURATION_STORE_NOT_FOUND", http.StatusBadRequest, codes.InvalidArgument,
		fmt.Sprintf("configuration store %s not found", store))
}

// ConfigurationGet is returned when the store failed to read.
func ConfigurationGet(keys []string, store string, err error) *Error {
	return configurationErr("ERR_CONFIGURATION_GET", http.StatusInternalServerError, codes.Internal,
		fmt.Sprintf("failed to get %v from Configuration store %s: %v", keys, store, err))
}

// ConfigurationSubscribe is returned when the store failed to subscribe.
func ConfigurationSubscribe(keys []string, store string, err error) *Error {
	return configurationErr("ERR_CONFIGURATION_SUBSCRIBE", http.StatusInternalServerError, codes.Internal,
		fmt.Sprintf("failed to subscribe %v from Configuration store %s: %v", keys, store, err))
}

// ConfigurationUnsubscribe is returned when a subscription could not be
// stopped (or does not exist).
func ConfigurationUnsubscribe(id string, err error) *Error {
	return legacy(CodeConfigurationUnsubscribe, http.StatusInternalServerError, codes.Internal,
		fmt.Sprintf("failed to unsubscribe to configuration request %s: %v", id, err))
}

// AppChannelNil is returned by the HTTP configuration subscribe when the
// sidecar has no app to post updates to.
func AppChannelNil() *Error {
	return legacy("ERR_APP_CHANNEL_NIL", http.StatusInternalServerError, codes.Internal, "app channel is nil")
}
