package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// actorMetrics are daprd's dapr_runtime_actor_* instruments.
type actorMetrics struct {
	activated    *vec[prometheus.Counter]
	deactivated  *vec[prometheus.Counter]
	deactFailed  *vec[prometheus.Counter]
	pending      *vec[prometheus.Gauge]
	timers       *vec[prometheus.Gauge]
	reminders    *vec[prometheus.Gauge]
	timerFired   *vec[prometheus.Counter]
	reminderFire *vec[prometheus.Counter]
}

func newActorMetrics(m *Metrics) actorMetrics {
	return actorMetrics{
		activated:    m.counter("dapr_runtime_actor_activated_total", "The number of actor activations.", "app_id", "actor_type"),
		deactivated:  m.counter("dapr_runtime_actor_deactivated_total", "The number of successful actor deactivations.", "app_id", "actor_type"),
		deactFailed:  m.counter("dapr_runtime_actor_deactivated_failed_total", "The number of failed actor deactivations.", "app_id", "actor_type", "reason"),
		pending:      m.gauge("dapr_runtime_actor_pending_actor_calls", "The number of pending actor calls waiting to acquire the per-actor lock.", "app_id", "actor_type"),
		timers:       m.gauge("dapr_runtime_actor_timers", "The number of actor timers.", "app_id", "actor_type"),
		reminders:    m.gauge("dapr_runtime_actor_reminders", "The number of actor reminders.", "app_id", "actor_type"),
		timerFired:   m.counter("dapr_runtime_actor_timers_fired_total", "The number of actor timers fired.", "app_id", "actor_type", "success"),
		reminderFire: m.counter("dapr_runtime_actor_reminders_fired_total", "The number of actor reminders fired.", "app_id", "actor_type", "success"),
	}
}

// ActorActivated records an actor activation.
func (m *Metrics) ActorActivated(actorType string) {
	if m == nil {
		return
	}
	if c, ok := m.actor.activated.with(m.appID, actorType); ok {
		c.Inc()
	}
}

// ActorDeactivated records an actor deactivation; a non-nil err counts as
// failed with reason err's text kept short ("deactivate" when empty).
func (m *Metrics) ActorDeactivated(actorType string, err error) {
	if m == nil {
		return
	}
	if err == nil {
		if c, ok := m.actor.deactivated.with(m.appID, actorType); ok {
			c.Inc()
		}
		return
	}
	// The reason label stays bounded: one fixed value, not the error text.
	if c, ok := m.actor.deactFailed.with(m.appID, actorType, "deactivate"); ok {
		c.Inc()
	}
}

// ActorPendingCalls sets the number of calls waiting for the per-actor
// lock of actorType.
func (m *Metrics) ActorPendingCalls(actorType string, n int) {
	if m == nil {
		return
	}
	if g, ok := m.actor.pending.with(m.appID, actorType); ok {
		g.Set(float64(n))
	}
}

// ActorPendingCallsAdd moves the pending-calls gauge of actorType by delta
// (+1 when a call starts waiting for the actor lock, -1 when it stops).
func (m *Metrics) ActorPendingCallsAdd(actorType string, delta int) {
	if m == nil {
		return
	}
	if g, ok := m.actor.pending.with(m.appID, actorType); ok {
		g.Add(float64(delta))
	}
}

// ActorTimers sets the number of active timers of actorType.
func (m *Metrics) ActorTimers(actorType string, n int) {
	if m == nil {
		return
	}
	if g, ok := m.actor.timers.with(m.appID, actorType); ok {
		g.Set(float64(n))
	}
}

// ActorReminders sets the number of reminders of actorType.
func (m *Metrics) ActorReminders(actorType string, n int) {
	if m == nil {
		return
	}
	if g, ok := m.actor.reminders.with(m.appID, actorType); ok {
		g.Set(float64(n))
	}
}

// ActorTimerFired records a timer delivered to the app.
func (m *Metrics) ActorTimerFired(actorType string, success bool) {
	if m == nil {
		return
	}
	if c, ok := m.actor.timerFired.with(m.appID, actorType, m.comp.successLabels[b2i(success)]); ok {
		c.Inc()
	}
}

// ActorReminderFired records a reminder delivered to the app.
func (m *Metrics) ActorReminderFired(actorType string, success bool) {
	if m == nil {
		return
	}
	if c, ok := m.actor.reminderFire.with(m.appID, actorType, m.comp.successLabels[b2i(success)]); ok {
		c.Inc()
	}
}
