package resiliency

// Kind is one of the three policy kinds.
type Kind string

// The policy kinds.
const (
	KindTimeout        Kind = "timeout"
	KindRetry          Kind = "retry"
	KindCircuitBreaker Kind = "circuitbreaker"
)

// TargetType says what a policy protects.
type TargetType string

// The target types.
const (
	TargetApp       TargetType = "app"
	TargetActor     TargetType = "actor"
	TargetComponent TargetType = "component"
	TargetBuiltIn   TargetType = "builtin"
)

// Direction is the flow a policy applies to: outbound (the sidecar calls
// an app, an actor or a component) or inbound (a component's event is
// delivered to the app).
type Direction string

// The directions.
const (
	Outbound Direction = "outbound"
	Inbound  Direction = "inbound"
)

// Target names what a policy protects, for logs and metrics. It is a plain
// value so reporting it costs no allocation.
type Target struct {
	Type TargetType
	// Name is the app id, actor type, component name or built-in policy name.
	Name string
	// ComponentKind is set for components (state, pubsub, ...).
	ComponentKind ComponentKind
	Direction     Direction
}

// Observer receives policy events; the metrics piece implements it. Calls
// happen on the request path, so implementations must be cheap and safe
// for concurrent use. A nil Observer is allowed.
type Observer interface {
	// PolicyLoaded is called once per Resiliency resource that was loaded.
	PolicyLoaded(resource string)
	// PolicyExecuted is called when a policy of kind wraps an operation
	// (once per operation, whatever the number of attempts).
	PolicyExecuted(t Target, kind Kind)
	// PolicyActivated is called when a policy acts: a timeout fired, a
	// retry was made, a circuit breaker rejected a call.
	PolicyActivated(t Target, kind Kind)
	// CircuitBreakerState is called when a breaker changes state: to is
	// "closed", "half-open" or "open".
	CircuitBreakerState(t Target, to string)
}
