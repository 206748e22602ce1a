package apierr

import (
	"fmt"
	"net/http"
	"strconv"

	"google.golang.org/grpc/codes"
)

func legacy(code string, httpStatus int, grpc codes.Code, msg string) *Error {
	return &Error{Code: code, HTTPStatus: httpStatus, GRPCCode: grpc, Message: msg}
}

// --- common ---

// BadRequest is ERR_BAD_REQUEST.
func BadRequest(detail string) *Error {
	return legacy("ERR_BAD_REQUEST", http.StatusBadRequest, codes.InvalidArgument, "invalid request: "+detail)
}

// BodyRead is ERR_BODY_READ.
func BodyRead(err error) *Error {
	return legacy("ERR_BODY_READ", http.StatusBadRequest, codes.InvalidArgument, "failed to read request body: "+err.Error())
}

// Malformed is ERR_MALFORMED_REQUEST for an undecodable body.
func Malformed(err error) *Error {
	return legacy("ERR_MALFORMED_REQUEST", http.StatusBadRequest, codes.InvalidArgument, "failed deserializing HTTP body: "+err.Error())
}

// MalformedMsg is ERR_MALFORMED_REQUEST with a message of its own.
func MalformedMsg(msg string) *Error {
	return legacy("ERR_MALFORMED_REQUEST", http.StatusBadRequest, codes.InvalidArgument, msg)
}

// TooLarge is the error for a body over --max-body-size. daprd's JSON
// handlers fail to decode the truncated body, so this is the same 400
// ERR_MALFORMED_REQUEST, with the limit and how to raise it in the message.
func TooLarge(limit int64) *Error {
	return legacy("ERR_MALFORMED_REQUEST", http.StatusBadRequest, codes.InvalidArgument,
		fmt.Sprintf("failed deserializing HTTP body: http: request body too large (the limit is %d bytes; raise it with --max-body-size)", limit))
}

// Internal is ERR_INTERNAL.
func Internal(msg string) *Error {
	return legacy("ERR_INTERNAL", http.StatusInternalServerError, codes.Internal, msg)
}

// NoAppID is ERR_DIRECT_INVOKE for a request that names no app.
func NoAppID() *Error {
	return legacy("ERR_DIRECT_INVOKE", http.StatusNotFound, codes.NotFound, "failed getting app id either from the URL path or the header dapr-app-id")
}

// Unimplemented is ERR_API_UNIMPLEMENTED.
func Unimplemented() *Error {
	return legacy("ERR_API_UNIMPLEMENTED", http.StatusNotImplemented, codes.Unimplemented, "this API is currently not implemented")
}

// --- health ---

func HealthNotReady(targets string) *Error {
	return legacy("ERR_HEALTH_NOT_READY", http.StatusInternalServerError, codes.Internal, "dapr is not ready: "+targets)
}

func HealthAppIDNotMatch() *Error {
	return legacy("ERR_HEALTH_APPID_NOT_MATCH", http.StatusInternalServerError, codes.Internal, "dapr app-id does not match")
}

func OutboundNotReady() *Error {
	return legacy("ERR_OUTBOUND_HEALTH_NOT_READY", http.StatusInternalServerError, codes.Internal, "dapr outbound is not ready")
}

// --- state ---

func stateResource(store string) *Resource {
	return &Resource{Type: "state", Name: store}
}

// StateStoreNotConfigured is returned when no state store exists at all.
func StateStoreNotConfigured(store string) *Error {
	return &Error{Code: "ERR_STATE_STORE_NOT_CONFIGURED", HTTPStatus: http.StatusInternalServerError, GRPCCode: codes.FailedPrecondition,
		Message: fmt.Sprintf("state store %s is not configured", store), Reason: "DAPR_STATE_NOT_CONFIGURED"}
}

// StateStoreNotFound is returned for an unknown store name.
func StateStoreNotFound(store, appID string) *Error {
	return &Error{Code: "ERR_STATE_STORE_NOT_FOUND", HTTPStatus: http.StatusBadRequest, GRPCCode: codes.InvalidArgument,
		Message: fmt.Sprintf("state store %s is not found", store), Reason: "DAPR_STATE_NOT_FOUND", Metadata: map[string]string{"appID": appID}}
}

// StateIllegalKey is returned for a key containing "||".
func StateIllegalKey(store, key string) *Error {
	msg := fmt.Sprintf("input key/keyPrefix '%s' can't contain '||'", key)
	return &Error{Code: "ERR_MALFORMED_REQUEST", HTTPStatus: http.StatusBadRequest, GRPCCode: codes.InvalidArgument,
		Message: "api error: code = InvalidArgument desc = " + msg, Reason: "DAPR_STATE_ILLEGAL_KEY", NullMetadata: true,
		FieldViolations: []FieldViolation{{Field: key, Description: msg}}, Resource: stateResource(store)}
}

// StateTransactionsNotSupported is returned by /transaction on a store
// without TRANSACTIONAL.
func StateTransactionsNotSupported(store string) *Error {
	return &Error{Code: "ERR_STATE_STORE_NOT_SUPPORTED", HTTPStatus: http.StatusInternalServerError, GRPCCode: codes.Unimplemented,
		Message: fmt.Sprintf("state store %s doesn't support transactions", store), Reason: "DAPR_STATE_TRANSACTIONS_NOT_SUPPORTED",
		HelpLinks: []HelpLink{{Description: "Check the list of state stores and the features they support",
			URL: "https://docs.dapr.io/reference/components-reference/supported-state-stores/"}},
		Resource: stateResource(store)}
}

// StateQueryNotSupported is returned by the query API on a store without QUERY_API.
func StateQueryNotSupported(store string) *Error {
	return &Error{Code: "ERR_STATE_STORE_NOT_SUPPORTED", HTTPStatus: http.StatusInternalServerError, GRPCCode: codes.Internal,
		Message: "state store does not support querying", Reason: "DAPR_STATE_QUERYING_NOT_SUPPORTED", Resource: stateResource(store)}
}

// StateTooManyTransactions is returned when a transaction exceeds the store's limit.
func StateTooManyTransactions(store string, count, max int) *Error {
	return &Error{Code: "ERR_STATE_STORE_TOO_MANY_TRANSACTIONS", HTTPStatus: http.StatusBadRequest, GRPCCode: codes.InvalidArgument,
		Message:  fmt.Sprintf("the transaction contains %d operations, which is more than what the state store supports: %d", count, max),
		Reason:   "DAPR_STATE_TOO_MANY_TRANSACTIONS",
		Metadata: map[string]string{"currentOpsTransaction": strconv.Itoa(count), "maxOpsPerTransaction": strconv.Itoa(max)},
		Resource: stateResource(store)}
}

// StateQuery is ERR_STATE_QUERY.
func StateQuery(store string, err error) *Error {
	return &Error{Code: "ERR_STATE_QUERY", HTTPStatus: http.StatusInternalServerError, GRPCCode: codes.Internal,
		Message: fmt.Sprintf("state store %s query failed: %v", store, err), Reason: "DAPR_STATE_QUERY_FAILED", Resource: stateResource(store)}
}

// stateOp builds ERR_STATE_GET/SAVE/DELETE-style errors: legacy body over
// HTTP, ErrorInfo reason = code over gRPC.
func stateOp(code string, httpStatus int, grpc codes.Code, msg string) *Error {
	return &Error{Code: code, HTTPStatus: httpStatus, GRPCCode: grpc, Message: msg, Reason: code, GRPCOnlyDetails: true}
}

// StateGet is ERR_STATE_GET.
func StateGet(key, store string, err error) *Error {
	return stateOp("ERR_STATE_GET", http.StatusInternalServerError, codes.Internal, fmt.Sprintf("fail to get %s from state store %s: %v", key, store, err))
}

// StateSave is ERR_STATE_SAVE with the status chosen by the ETag kind.
func StateSave(store string, err error, httpStatus int, grpc codes.Code) *Error {
	return stateOp("ERR_STATE_SAVE", httpStatus, grpc, fmt.Sprintf("failed saving state in state store %s: %v", store, err))
}

// StateSaveEmptyKey is the gRPC/HTTP error for an item without a key.
func StateSaveEmptyKey() *Error {
	return stateOp("ERR_STATE_SAVE", http.StatusBadRequest, codes.InvalidArgument, "state key cannot be empty")
}

// StateDelete is ERR_STATE_DELETE.
func StateDelete(key string, err error, httpStatus int, grpc codes.Code) *Error {
	return stateOp("ERR_STATE_DELETE", httpStatus, grpc, fmt.Sprintf("failed deleting state with key %s: %v", key, err))
}

// StateBulkDelete is ERR_STATE_BULK_DELETE (gRPC only).
func StateBulkDelete(store string, err error, httpStatus int, grpc codes.Code) *Error {
	return stateOp("ERR_STATE_BULK_DELETE", httpStatus, grpc, fmt.Sprintf("failed deleting state in state store %s: %v", store, err))
}

// StateBulkGet is ERR_STATE_BULK_GET.
func StateBulkGet(store string, err error) *Error {
	return legacy("ERR_STATE_BULK_GET", http.StatusInternalServerError, codes.Internal, fmt.Sprintf("failed getting state in state store %s: %v", store, err))
}

// StateTransaction is ERR_STATE_TRANSACTION (also for ETag failures).
func StateTransaction(err error) *Error {
	return stateOp("ERR_STATE_TRANSACTION", http.StatusInternalServerError, codes.Internal, "error while executing state transaction: "+err.Error())
}

// StateOperationNotSupported is ERR_NOT_SUPPORTED_STATE_OPERATION.
func StateOperationNotSupported(op string) *Error {
	return &Error{Code: "ERR_NOT_SUPPORTED_STATE_OPERATION", HTTPStatus: http.StatusBadRequest, GRPCCode: codes.Unimplemented,
		Message: fmt.Sprintf("operation type %s not supported", op), Reason: "ERR_NOT_SUPPORTED_STATE_OPERATION", GRPCOnlyDetails: true}
}
