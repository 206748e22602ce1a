package actors

// Observer is told about actor lifecycle events, for metrics. The
// sidecar passes its metrics recorder; nil observes nothing.
type Observer interface {
	ActorActivated(actorType string)
	ActorDeactivated(actorType string, err error)
	// ActorPendingCallsAdd counts calls waiting for an actor's turn.
	ActorPendingCallsAdd(actorType string, delta int)
	ActorTimerFired(actorType string, success bool)
	ActorReminderFired(actorType string, success bool)
}

type noObserver struct{}

func (noObserver) ActorActivated(string)            {}
func (noObserver) ActorDeactivated(string, error)   {}
func (noObserver) ActorPendingCallsAdd(string, int) {}
func (noObserver) ActorTimerFired(string, bool)     {}
func (noObserver) ActorReminderFired(string, bool)  {}
