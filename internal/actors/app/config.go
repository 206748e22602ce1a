package app

import (
	"encoding/json"
	"fmt"
	"time"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/outrigger/outrigger/internal/actors"
)

// configJSON is the body of GET /dapr/config. actorScanInterval and
// remindersStoragePartitions are accepted by daprd but have no effect, so
// they are not decoded at all.
type configJSON struct {
	Entities                []string           `json:"entities"`
	ActorIdleTimeout        string             `json:"actorIdleTimeout"`
	DrainOngoingCallTimeout string             `json:"drainOngoingCallTimeout"`
	DrainRebalancedActors   *bool              `json:"drainRebalancedActors"`
	Reentrancy              *reentrancyJSON    `json:"reentrancy"`
	EntitiesConfig          []entityConfigJSON `json:"entitiesConfig"`
}

type entityConfigJSON struct {
	Entities                []string        `json:"entities"`
	ActorIdleTimeout        string          `json:"actorIdleTimeout"`
	DrainOngoingCallTimeout string          `json:"drainOngoingCallTimeout"`
	DrainRebalancedActors   *bool           `json:"drainRebalancedActors"`
	Reentrancy              *reentrancyJSON `json:"reentrancy"`
}

type reentrancyJSON struct {
	Enabled       bool `json:"enabled"`
	MaxStackDepth *int `json:"maxStackDepth"`
}

// parseConfigJSON decodes an app's /dapr/config answer. An empty body is an
// app without actors. Errors name the offending field.
func parseConfigJSON(body []byte) (actors.AppConfig, error) {
	if len(body) == 0 {
		return actors.AppConfig{}, nil
	}
	var in configJSON
	if err := json.Unmarshal(body, &in); err != nil {
		return actors.AppConfig{}, fmt.Errorf("decoding the actor configuration: %w", err)
	}
	var cfg actors.AppConfig
	var err error
	cfg.Entities = in.Entities
	if cfg.ActorIdleTimeout, err = parseDuration("actorIdleTimeout", in.ActorIdleTimeout); err != nil {
		return actors.AppConfig{}, err
	}
	if cfg.DrainOngoingCallTimeout, err = parseDuration("drainOngoingCallTimeout", in.DrainOngoingCallTimeout); err != nil {
		return actors.AppConfig{}, err
	}
	cfg.DrainRebalancedActors = in.DrainRebalancedActors
	if in.Reentrancy != nil {
		r, err := in.Reentrancy.parse("reentrancy")
		if err != nil {
			return actors.AppConfig{}, err
		}
		cfg.Reentrancy = r
	}
	for i, ec := range in.EntitiesConfig {
		out, err := ec.parse(fmt.Sprintf("entitiesConfig[%d]", i))
		if err != nil {
			return actors.AppConfig{}, err
		}
		cfg.EntitiesConfig = append(cfg.EntitiesConfig, out)
	}
	return cfg, nil
}

func (ec entityConfigJSON) parse(field string) (actors.EntityConfig, error) {
	out := actors.EntityConfig{Entities: ec.Entities, DrainRebalancedActors: ec.DrainRebalancedActors}
	var err error
	if out.ActorIdleTimeout, err = parseDuration(field+".actorIdleTimeout", ec.ActorIdleTimeout); err != nil {
		return actors.EntityConfig{}, err
	}
	if out.DrainOngoingCallTimeout, err = parseDuration(field+".drainOngoingCallTimeout", ec.DrainOngoingCallTimeout); err != nil {
		return actors.EntityConfig{}, err
	}
	if ec.Reentrancy != nil {
		r, err := ec.Reentrancy.parse(field + ".reentrancy")
		if err != nil {
			return actors.EntityConfig{}, err
		}
		out.Reentrancy = &r
	}
	return out, nil
}

func (r reentrancyJSON) parse(field string) (actors.Reentrancy, error) {
	out := actors.Reentrancy{Enabled: r.Enabled}
	if r.MaxStackDepth != nil {
		if *r.MaxStackDepth < 0 {
			return actors.Reentrancy{}, fmt.Errorf("%s.maxStackDepth: must not be negative, got %d", field, *r.MaxStackDepth)
		}
		out.MaxStackDepth = *r.MaxStackDepth
	}
	return out, nil
}

// parseDuration parses a Go duration string; empty means "use the default"
// (zero).
func parseDuration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: invalid duration %q", field, s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%s: must not be negative, got %q", field, s)
	}
	return d, nil
}

// configFromInitial converts the initial request of a gRPC app's actor
// stream. Errors name the offending field.
func configFromInitial(in *runtimev1.SubscribeActorEventsRequestInitialAlpha1) (actors.AppConfig, error) {
	cfg := actors.AppConfig{
		Entities:              in.GetEntities(),
		DrainRebalancedActors: in.DrainRebalancedActors,
	}
	var err error
	if cfg.ActorIdleTimeout, err = protoDuration("actor_idle_timeout", in.GetActorIdleTimeout()); err != nil {
		return actors.AppConfig{}, err
	}
	if cfg.DrainOngoingCallTimeout, err = protoDuration("drain_ongoing_call_timeout", in.GetDrainOngoingCallTimeout()); err != nil {
		return actors.AppConfig{}, err
	}
	if r := in.GetReentrancy(); r != nil {
		if cfg.Reentrancy, err = protoReentrancy("reentrancy", r); err != nil {
			return actors.AppConfig{}, err
		}
	}
	for i, ec := range in.GetEntitiesConfig() {
		out, err := entityFromProto(fmt.Sprintf("entities_config[%d]", i), ec)
		if err != nil {
			return actors.AppConfig{}, err
		}
		cfg.EntitiesConfig = append(cfg.EntitiesConfig, out)
	}
	return cfg, nil
}

func entityFromProto(field string, ec *runtimev1.ActorEntityConfig) (actors.EntityConfig, error) {
	out := actors.EntityConfig{Entities: ec.GetEntities(), DrainRebalancedActors: ec.DrainRebalancedActors}
	var err error
	if out.ActorIdleTimeout, err = protoDuration(field+".actor_idle_timeout", ec.GetActorIdleTimeout()); err != nil {
		return actors.EntityConfig{}, err
	}
	if out.DrainOngoingCallTimeout, err = protoDuration(field+".drain_ongoing_call_timeout", ec.GetDrainOngoingCallTimeout()); err != nil {
		return actors.EntityConfig{}, err
	}
	if r := ec.GetReentrancy(); r != nil {
		re, err := protoReentrancy(field+".reentrancy", r)
		if err != nil {
			return actors.EntityConfig{}, err
		}
		out.Reentrancy = &re
	}
	return out, nil
}

func protoReentrancy(field string, r *runtimev1.ActorReentrancyConfig) (actors.Reentrancy, error) {
	out := actors.Reentrancy{Enabled: r.GetEnabled()}
	if r.MaxStackDepth != nil {
		if r.GetMaxStackDepth() < 0 {
			return actors.Reentrancy{}, fmt.Errorf("%s.max_stack_depth: must not be negative, got %d", field, r.GetMaxStackDepth())
		}
		out.MaxStackDepth = int(r.GetMaxStackDepth())
	}
	return out, nil
}

func protoDuration(field string, d *durationpb.Duration) (time.Duration, error) {
	if d == nil {
		return 0, nil
	}
	if err := d.CheckValid(); err != nil {
		return 0, fmt.Errorf("%s: %w", field, err)
	}
	if v := d.AsDuration(); v >= 0 {
		return v, nil
	}
	return 0, fmt.Errorf("%s: must not be negative, got %s", field, d.AsDuration())
}
