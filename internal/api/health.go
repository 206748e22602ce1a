package api

import "github.com/outrigger/outrigger/internal/api/apierr"

// Healthz reports full readiness; appID, when non-empty, must match ours.
func (c *Core) Healthz(appID string) error {
	if !c.health.ready.Load() {
		return apierr.HealthNotReady("[app]")
	}
	if appID != "" && appID != c.appID {
		return apierr.HealthAppIDNotMatch()
	}
	return nil
}

// HealthzOutbound reports whether apps may call the sidecar.
func (c *Core) HealthzOutbound() error {
	if !c.health.outbound.Load() {
		return apierr.OutboundNotReady()
	}
	return nil
}
