package apierr

import (
	"net/http"

	"google.golang.org/grpc/codes"
)

// --- actors (legacy errors: code and message, no details) ---

// ActorInstanceMissing is a state transaction for an actor not hosted here.
func ActorInstanceMissing() *Error {
	return legacy("ERR_ACTOR_INSTANCE_MISSING", http.StatusBadRequest, codes.Internal, "actor instance is missing")
}

// ActorInvokeMethod is ERR_ACTOR_INVOKE_METHOD.
func ActorInvokeMethod(err error) *Error {
	return legacy("ERR_ACTOR_INVOKE_METHOD", http.StatusInternalServerError, codes.Internal, "error invoke actor method: "+err.Error())
}

// ActorRuntimeNotFound: no state store is marked actorStateStore.
func ActorRuntimeNotFound() *Error {
	return legacy("ERR_ACTOR_RUNTIME_NOT_FOUND", http.StatusInternalServerError, codes.Internal,
		`the state store is not configured to use the actor runtime. Have you set the - name: actorStateStore value: "true" in your state store component file?`)
}

// ActorStateGet is ERR_ACTOR_STATE_GET.
func ActorStateGet(err error) *Error {
	return legacy("ERR_ACTOR_STATE_GET", http.StatusInternalServerError, codes.Internal, "error getting actor state: "+err.Error())
}

// ActorStateTransactionSave is ERR_ACTOR_STATE_TRANSACTION_SAVE.
func ActorStateTransactionSave(err error) *Error {
	return legacy("ERR_ACTOR_STATE_TRANSACTION_SAVE", http.StatusInternalServerError, codes.Internal, "error saving actor transaction state: "+err.Error())
}

// ActorReminderCreate is ERR_ACTOR_REMINDER_CREATE.
func ActorReminderCreate(err error) *Error {
	return legacy("ERR_ACTOR_REMINDER_CREATE", http.StatusInternalServerError, codes.Internal, "error creating actor reminder: "+err.Error())
}

// ActorReminderGet is ERR_ACTOR_REMINDER_GET.
func ActorReminderGet(err error) *Error {
	return legacy("ERR_ACTOR_REMINDER_GET", http.StatusInternalServerError, codes.Internal, "error getting actor reminder: "+err.Error())
}

// ActorReminderDelete is ERR_ACTOR_REMINDER_DELETE.
func ActorReminderDelete(err error) *Error {
	return legacy("ERR_ACTOR_REMINDER_DELETE", http.StatusInternalServerError, codes.Internal, "error deleting actor reminder: "+err.Error())
}

// ActorReminderNotFound is ERR_ACTOR_REMINDER_NOT_FOUND.
func ActorReminderNotFound(name string) *Error {
	return legacy("ERR_ACTOR_REMINDER_NOT_FOUND", http.StatusNotFound, codes.NotFound, "actor reminder not found: "+name)
}

// ActorReminderExists is ERR_ACTOR_REMINDER_ALREADY_EXISTS.
func ActorReminderExists(name string) *Error {
	return legacy("ERR_ACTOR_REMINDER_ALREADY_EXISTS", http.StatusConflict, codes.AlreadyExists, "actor reminder already exists: "+name)
}

// ActorReminderNonHosted: a reminder operation on a type this app does not
// host.
func ActorReminderNonHosted() *Error {
	return legacy("ERR_ACTOR_REMINDER_NON_HOSTED", http.StatusForbidden, codes.PermissionDenied, "operations on actor reminders are only possible on hosted actor types")
}

// ActorTypeReserved: actor types of the workflow engine are not reachable
// through the actor API.
func ActorTypeReserved(actorType string) *Error {
	return legacy("ERR_ACTOR_TYPE_RESERVED", http.StatusForbidden, codes.PermissionDenied,
		`actor type "`+actorType+`" is reserved for the Dapr workflow runtime; direct actor API access is not permitted`)
}

// ActorTimerCreate is ERR_ACTOR_TIMER_CREATE.
func ActorTimerCreate(err error) *Error {
	return legacy("ERR_ACTOR_TIMER_CREATE", http.StatusInternalServerError, codes.Internal, "error creating actor timer: "+err.Error())
}

// ActorNoAppChannel is ERR_ACTOR_NO_APP_CHANNEL.
func ActorNoAppChannel() *Error {
	return legacy("ERR_ACTOR_NO_APP_CHANNEL", http.StatusBadRequest, codes.Unavailable, "app channel is not initialized")
}

// ActorStackDepth is ERR_ACTOR_STACK_DEPTH.
func ActorStackDepth() *Error {
	return legacy("ERR_ACTOR_STACK_DEPTH", http.StatusInternalServerError, codes.ResourceExhausted, "maximum stack depth exceeded")
}

// ActorNoPlacement: actors are disabled because no placement address is set.
func ActorNoPlacement() *Error {
	return legacy("ERR_ACTOR_NO_PLACEMENT", http.StatusBadRequest, codes.Unavailable, "placement service is not configured")
}

// ActorRuntimeClosed is ERR_ACTOR_RUNTIME_CLOSED.
func ActorRuntimeClosed() *Error {
	return legacy("ERR_ACTOR_RUNTIME_CLOSED", http.StatusServiceUnavailable, codes.Unavailable, "actor runtime is closed")
}

// ActorNoAddress: no host serves the actor's type.
func ActorNoAddress(key string) *Error {
	return legacy("ERR_ACTOR_NO_ADDRESS", http.StatusNotFound, codes.FailedPrecondition, "did not find address for actor '"+key+"'")
}

// ActorOperationUnsupported is a state transaction step of an unknown type
// (gRPC Unimplemented, as daprd answers).
func ActorOperationUnsupported(msg string) *Error {
	return legacy("ERR_ACTOR_STATE_TRANSACTION_SAVE", http.StatusInternalServerError, codes.Unimplemented, msg)
}
