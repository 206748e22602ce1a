package actors

import (
	"slices"
	"time"
)

// Defaults of Dapr's actor runtime.
const (
	defaultIdleTimeout      = 60 * time.Minute
	defaultDrainTimeout     = 60 * time.Second
	defaultMaxStackDepth    = 32
	defaultScanInterval     = 30 * time.Second
	defaultDisseminateLimit = 30 * time.Second
)

// typeConfig is the effective configuration of one actor type.
type typeConfig struct {
	idleTimeout   time.Duration
	drainTimeout  time.Duration
	drainActors   bool
	reentrant     bool
	maxStackDepth int
}

// hostConfig is the app's configuration resolved per type.
type hostConfig struct {
	types    []string
	base     typeConfig
	perType  map[string]typeConfig
	minIdle  time.Duration // shortest idle timeout, for the scan interval
	anyTypes bool
}

// resolveConfig applies defaults and per-type overrides. disseminate is
// --actors-disseminate-timeout: draining must finish inside a
// dissemination round, so the drain timeout is clamped below it.
func resolveConfig(c AppConfig, disseminate time.Duration) hostConfig {
	if disseminate <= 0 {
		disseminate = defaultDisseminateLimit
	}
	base := typeConfig{
		idleTimeout:   orDefault(c.ActorIdleTimeout, defaultIdleTimeout),
		drainTimeout:  clampDrain(orDefault(c.DrainOngoingCallTimeout, defaultDrainTimeout), disseminate),
		drainActors:   c.DrainRebalancedActors == nil || *c.DrainRebalancedActors,
		reentrant:     c.Reentrancy.Enabled,
		maxStackDepth: c.Reentrancy.MaxStackDepth,
	}
	if base.maxStackDepth <= 0 {
		base.maxStackDepth = defaultMaxStackDepth
	}
	hc := hostConfig{types: slices.Clone(c.Entities), base: base, perType: map[string]typeConfig{}, minIdle: base.idleTimeout}
	for _, ec := range c.EntitiesConfig {
		tc := base
		if ec.ActorIdleTimeout > 0 {
			tc.idleTimeout = ec.ActorIdleTimeout
		}
		if ec.DrainOngoingCallTimeout > 0 {
			tc.drainTimeout = clampDrain(ec.DrainOngoingCallTimeout, disseminate)
		}
		if ec.DrainRebalancedActors != nil {
			tc.drainActors = *ec.DrainRebalancedActors
		}
		if ec.Reentrancy != nil {
			tc.reentrant = ec.Reentrancy.Enabled
			tc.maxStackDepth = ec.Reentrancy.MaxStackDepth
			if tc.maxStackDepth <= 0 {
				tc.maxStackDepth = defaultMaxStackDepth
			}
		}
		for _, t := range ec.Entities {
			hc.perType[t] = tc
		}
		hc.minIdle = min(hc.minIdle, tc.idleTimeout)
	}
	hc.anyTypes = len(hc.types) > 0
	return hc
}

// forType returns the configuration of one actor type.
func (hc *hostConfig) forType(actorType string) typeConfig {
	if tc, ok := hc.perType[actorType]; ok {
		return tc
	}
	return hc.base
}

// hosts reports whether the app hosts actorType.
func (hc *hostConfig) hosts(actorType string) bool {
	return slices.Contains(hc.types, actorType)
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// clampDrain keeps the drain wait inside a dissemination round (80% of it)
// so a slow actor call cannot make this host miss the round.
func clampDrain(d, disseminate time.Duration) time.Duration {
	if d >= disseminate {
		return disseminate * 8 / 10
	}
	return d
}
