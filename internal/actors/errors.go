package actors

import (
	"errors"
	"strconv"

	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
)

// Errors the API layer maps to Dapr's error codes.
var (
	// ErrClosed: the runtime is shutting down (ERR_ACTOR_RUNTIME_CLOSED).
	ErrClosed = errors.New("actor runtime is closed")
	// ErrNoStateStore: no state store is marked actorStateStore
	// (ERR_ACTOR_RUNTIME_NOT_FOUND).
	ErrNoStateStore = errors.New("no actor state store is configured")
	// ErrStackDepth: a reentrant chain went deeper than maxStackDepth
	// (ERR_ACTOR_STACK_DEPTH).
	ErrStackDepth = errors.New("maximum stack depth exceeded")
	// ErrNotLocal: a state transaction for an actor this sidecar does not
	// host (ERR_ACTOR_INSTANCE_MISSING).
	ErrNotLocal = errors.New("actor instance is missing")
	// ErrNotHosted: a reminder operation on a type this app does not host
	// (ERR_ACTOR_REMINDER_NON_HOSTED).
	ErrNotHosted = errors.New("operations on actor reminders are only possible on hosted actor types")
	// ErrReminderNotFound and ErrReminderExists come from the reminder
	// service (ERR_ACTOR_REMINDER_NOT_FOUND, ERR_ACTOR_REMINDER_ALREADY_EXISTS).
	ErrReminderNotFound = errors.New("actor reminder not found")
	ErrReminderExists   = errors.New("actor reminder already exists")
	// ErrStateTTLDisabled: ttlInSeconds without the ActorStateTTL feature.
	ErrStateTTLDisabled = errors.New("ttlInSeconds is not supported without the ActorStateTTL feature enabled")
	// ErrNoApp: the sidecar has no app to host actors.
	ErrNoApp = errors.New("app channel is not initialized")
)

// ErrUnsupportedOperation is a state transaction step that is neither
// upsert nor delete.
type ErrUnsupportedOperation struct{ Operation string }

func (e *ErrUnsupportedOperation) Error() string {
	return "operation type " + e.Operation + " not supported"
}

// ActorError is an error the app itself reported for an actor call (it set
// X-Daprerrorresponseheader): the app's status, headers and body are
// relayed to the caller as they are.
type ActorError struct {
	Response *internalsv1.InternalInvokeResponse
}

func (e *ActorError) Error() string {
	return "actor error with status code " + strconv.Itoa(int(e.Response.GetStatus().GetCode()))
}

// IsActorError reports whether err is an error reported by the app.
func IsActorError(err error) (*ActorError, bool) {
	var ae *ActorError
	ok := errors.As(err, &ae)
	return ae, ok
}
