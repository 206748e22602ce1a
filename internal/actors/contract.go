// Package actors is the sidecar's virtual actor runtime: it activates actors
// in the app on first call, runs one call per actor at a time, forwards calls
// for actors owned by another sidecar, keeps actor state, and fires timers
// and reminders.
//
// This file holds the contracts between the runtime and its collaborators,
// each built in its own package: the placement client
// (internal/placement/client) and the app side (internal/actors/app).
package actors

import (
	"context"
	"errors"
	"time"

	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
)

// ErrNoHost is returned by Placement.LookupActor when no sidecar hosts the
// actor type.
var ErrNoHost = errors.New("no host serves this actor type")

// Host is one sidecar hosting actors, as the placement table names it.
type Host struct {
	// Name is "<host>:<internal gRPC port>", the address other sidecars dial.
	Name      string
	AppID     string
	Namespace string
}

// Placement tells this sidecar where actors live. internal/placement/client
// implements it against the placement service.
type Placement interface {
	// Run connects to the placement service and keeps reporting this host
	// until ctx ends, reconnecting and failing over between addresses.
	Run(ctx context.Context) error
	// SetHostedTypes sets the actor types this sidecar reports; empty reports
	// none (the app hosts no actors or is unhealthy). Sent at once.
	SetHostedTypes(types []string)
	// LookupActor returns the owner of an actor. It waits, bounded by ctx,
	// until the first table has arrived and while a dissemination round holds
	// the table locked. ErrNoHost when no host serves the type.
	LookupActor(ctx context.Context, actorType, actorID string) (Host, error)
}

// TableListener is told about placement changes; the runtime implements it.
type TableListener interface {
	// TableUpdated runs during a dissemination round, after the new table is
	// in place and before the update is acknowledged. The runtime deactivates
	// here every local actor it no longer owns, so an actor that moved is
	// gone before its new owner can activate it (placement unlocks the other
	// hosts only after every host has acknowledged the update).
	TableUpdated(ctx context.Context)
	// PlacementLost runs when the sidecar has been cut off from placement for
	// longer than its grace period: placement may have given its actors to
	// other hosts, so every local actor must be deactivated.
	PlacementLost(ctx context.Context)
}

// AppConfig is the app's actor configuration (GET /dapr/config, or the
// initial request of a gRPC app's SubscribeActorEventsAlpha1 stream).
// Durations are already parsed; zero means "use the default".
type AppConfig struct {
	Entities                []string
	ActorIdleTimeout        time.Duration
	DrainOngoingCallTimeout time.Duration
	DrainRebalancedActors   *bool
	Reentrancy              Reentrancy
	// EntitiesConfig holds per-type overrides; each entry's Entities says
	// which types it applies to.
	EntitiesConfig []EntityConfig
}

// EntityConfig overrides AppConfig for some actor types.
type EntityConfig struct {
	Entities                []string
	ActorIdleTimeout        time.Duration
	DrainOngoingCallTimeout time.Duration
	DrainRebalancedActors   *bool
	Reentrancy              *Reentrancy
}

// Reentrancy is the app's reentrancy setting.
type Reentrancy struct {
	Enabled bool
	// MaxStackDepth is 0 for the default (32).
	MaxStackDepth int
}

// TimerCall is what the app receives when a timer fires.
type TimerCall struct {
	Callback string
	// Data is the timer's data as raw JSON, nil when none was registered.
	Data    []byte
	DueTime string
	Period  string
}

// ReminderCall is what the app receives when a reminder fires.
type ReminderCall struct {
	// Data is the reminder's data as raw JSON, nil when none was registered.
	Data    []byte
	DueTime string
	Period  string
}

// App calls the application that hosts actors, over HTTP
// (/actors/{type}/{id}/...) or over a gRPC app's actor event stream.
// internal/actors/app implements it.
type App interface {
	// Config fetches the app's actor configuration. An app that hosts no
	// actors (404, no stream) gives an empty config and no error.
	Config(ctx context.Context) (AppConfig, error)
	// InvokeMethod calls an actor method. Any answer from the app comes back
	// as a response, whatever its status (Status.Code is the HTTP status for
	// HTTP apps; the app's headers are in Headers, including
	// X-Daprerrorresponseheader); the runtime decides what it means. err is
	// only for failing to reach the app.
	InvokeMethod(ctx context.Context, req *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error)
	// Timer and Reminder deliver a firing; cancel reports that the app asked
	// to stop further firings (X-Daprremindercancel: true).
	Timer(ctx context.Context, actorType, actorID, name string, call TimerCall) (cancel bool, err error)
	Reminder(ctx context.Context, actorType, actorID, name string, call ReminderCall) (cancel bool, err error)
	// Deactivate tells the app an actor is deactivated.
	Deactivate(ctx context.Context, actorType, actorID string) error
}

// TableReader is an optional Placement capability: LookupActorNow answers
// from the table in place, without waiting for a dissemination round.
// TableUpdated uses it, since LookupActor may wait for the very round
// TableUpdated is part of; without it the runtime bounds each LookupActor
// there by a short timeout and treats a timeout as "moved" (deactivating
// an actor that stayed is harmless; keeping one that moved is not).
type TableReader interface {
	LookupActorNow(actorType, actorID string) (Host, error)
}

// Connectivity is an optional Placement capability reported in the
// metadata API (actorRuntime.placement, hostReady).
type Connectivity interface {
	Connected() bool
}
