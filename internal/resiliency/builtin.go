package resiliency

import "time"

// Names of daprd's built-in retry policies. A Resiliency policy with one of
// these names overrides it (never below 3 retries), except
// BuiltInActorNotFoundRetries, which is protected.
const (
	BuiltInServiceRetries        = "DaprBuiltInServiceRetries"
	BuiltInActorRetries          = "DaprBuiltInActorRetries"
	BuiltInActorReminderRetries  = "DaprBuiltInActorReminderRetries"
	BuiltInInitializationRetries = "DaprBuiltInInitializationRetries"
	BuiltInActorNotFoundRetries  = "DaprBuiltInActorNotFoundRetries"
)

// minBuiltInRetries is the floor for overrides of built-in retries.
const minBuiltInRetries = 3

// builtInDefaults are daprd's built-in retries when not overridden.
var builtInDefaults = map[string]*retrySpec{
	// Sidecar-to-sidecar calls that fail with Unavailable/Unauthenticated.
	BuiltInServiceRetries: {name: BuiltInServiceRetries, interval: time.Second, maxRetries: 3},
	// The same for actor calls.
	BuiltInActorRetries: {name: BuiltInActorRetries, interval: time.Second, maxRetries: 3},
	// Persisting reminders.
	BuiltInActorReminderRetries: {
		name: BuiltInActorReminderRetries, exponential: true, initial: 500 * time.Millisecond,
		maxInterval: time.Minute, maxElapsed: 15 * time.Minute, maxRetries: -1,
	},
	// Fetching specs from the app (subscriptions, ...).
	BuiltInInitializationRetries: {
		name: BuiltInInitializationRetries, exponential: true, initial: 500 * time.Millisecond,
		maxInterval: time.Second, maxElapsed: 10 * time.Second, maxRetries: 3,
	},
	// Actor calls that land on a host that no longer has the actor.
	BuiltInActorNotFoundRetries: {name: BuiltInActorNotFoundRetries, interval: time.Second, maxRetries: 5},
}

// isBuiltIn reports whether name is a built-in retry policy.
func isBuiltIn(name string) bool {
	_, ok := builtInDefaults[name]
	return ok
}

// isProtected reports whether a built-in policy cannot be overridden.
func isProtected(name string) bool { return name == BuiltInActorNotFoundRetries }

// BuiltIn returns the built-in retry policy name (overridden or not) as a
// retry-only Policy, and whether a Resiliency resource overrode it. It
// works on a nil Provider.
func (p *Provider) BuiltIn(name string) (pol Policy, overridden bool) {
	p = p.live()
	spec := builtInDefaults[name]
	if p != nil {
		if s, ok := p.builtIns[name]; ok {
			spec, overridden = s, true
		}
	}
	if spec == nil {
		return Policy{}, false
	}
	var env *runEnv
	if p != nil {
		env = p.env
	}
	return Policy{target: Target{Type: TargetBuiltIn, Name: name}, retry: spec, env: env}, overridden
}
