package sidecar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/outrigger/outrigger/internal/actors"
	actorapp "github.com/outrigger/outrigger/internal/actors/app"
	"github.com/outrigger/outrigger/internal/actors/reminders"
	"github.com/outrigger/outrigger/internal/actors/timers"
	apigrpc "github.com/outrigger/outrigger/internal/api/grpc"
	"github.com/outrigger/outrigger/internal/nameresolution"
	"github.com/outrigger/outrigger/internal/options"
	placementclient "github.com/outrigger/outrigger/internal/placement/client"
	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/resources"
	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/telemetry/metrics"
	"github.com/outrigger/outrigger/internal/telemetry/tracing"
)

// featureActorStateTTL is the Configuration feature that allows
// ttlInSeconds on actor state.
const featureActorStateTTL = "ActorStateTTL"

// actorHost is the actor building block of one sidecar: the runtime, its
// placement client, timers and reminders, and (for gRPC apps) the stream
// the app hosts its actors on.
type actorHost struct {
	runtime   *actors.Runtime
	placement *placementclient.Client
	timers    *timers.Timers
	reminders *reminders.Service // nil without an actor state store
	stream    *actorapp.StreamHost
	app       actors.App
	log       *slog.Logger

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// newActorHost builds the actor runtime when a placement address is set;
// without one it returns nil and the actor API answers
// ERR_ACTOR_NO_PLACEMENT.
func newActorHost(opts options.Options, cfg *resources.Configuration, comps *loaded, inv *invocation, res *resiliency.Provider, mt *metrics.Metrics, tr *tracing.Provider, log *slog.Logger) (*actorHost, error) {
	if len(opts.PlacementHostAddresses) == 0 {
		return nil, nil
	}
	alog := log.With("component", "actors")
	host, err := nameresolution.HostAddress(opts.HostIP)
	if err != nil {
		return nil, fmt.Errorf("actors: cannot determine this host's address for placement: %w", err)
	}
	pl, err := placementclient.New(placementclient.Options{
		Addresses: opts.PlacementHostAddresses, HostAddress: host, Port: inv.internalPort,
		AppID: opts.AppID, Namespace: namespaceOrDefault(opts.Namespace),
		DisseminateTimeout: opts.ActorsDisseminateTimeout, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("actors: %w", err)
	}
	a := &actorHost{placement: pl, log: alog}
	switch {
	case opts.AppProtocol == "grpc" || opts.AppProtocol == "grpcs":
		a.stream = actorapp.NewStreamHost(alog)
		a.app = a.stream
	case inv.channel != nil:
		a.app = actorapp.NewHTTP(inv.channel, opts.AppID, alog)
	}

	// The runtime, timers and reminders call each other; rt is set before
	// any of them runs.
	var rt *actors.Runtime
	// Timer and reminder firings have no API call behind them, so each
	// starts its own trace.
	a.timers = timers.New(func(ctx context.Context, t timers.Timer) (bool, error) {
		ctx, span := tr.StartActorCall(ctx, t.ActorType, t.ActorID, "timer/"+t.Name)
		cancel, err := rt.FireTimer(ctx, t.ActorType, t.ActorID, t.Name, t.Call)
		tracing.End(span, err)
		return cancel, err
	}, alog)
	store := actorStore(comps.stateStores)
	var rems actors.Reminders
	if store != nil {
		a.reminders = reminders.New(reminders.Config{
			Store: store.Store, AppID: opts.AppID, Log: alog,
			IsLocal:     func(ctx context.Context, typ, id string) (bool, error) { return rt.IsLocal(ctx, typ, id) },
			HostedTypes: func() []string { return rt.HostedTypes() },
			Fire: func(ctx context.Context, r reminders.Reminder) (bool, error) {
				ctx, span := tr.StartActorCall(ctx, r.ActorType, r.ActorID, "remind/"+r.Name)
				cancel, err := rt.FireReminder(ctx, r.ActorType, r.ActorID, r.Name, actors.ReminderCall{Data: r.Data, DueTime: r.DueTime, Period: r.Period})
				tracing.End(span, err)
				return cancel, err
			},
		})
		rems = reminderAdapter{a.reminders}
	} else {
		alog.Warn(`no state store is marked actorStateStore: "true"; actor state and reminders are unavailable`)
	}
	rt = actors.New(actors.Config{
		AppID: opts.AppID, HostName: pl.Host().Name, Placement: pl, App: a.app,
		StateStore: store, Timers: timerAdapter{a.timers}, Reminders: rems,
		Dial: func(_ context.Context, addr string) (grpc.ClientConnInterface, error) {
			return inv.invoker.ConnTo(addr)
		},
		DisseminateTimeout: opts.ActorsDisseminateTimeout,
		StateTTL:           slices.Contains(cfg.EnabledFeatures(), featureActorStateTTL),
		Observer:           actorObserver(mt),
		Resiliency:         res,
		Log:                log,
	})
	a.runtime = rt
	pl.SetListener(rt)
	inv.server.SetActors(rt)
	return a, nil
}

// actorObserver records actor metrics; nil (no interface value) when
// metrics are off, so the runtime skips the calls.
func actorObserver(mt *metrics.Metrics) actors.Observer {
	if mt == nil {
		return nil
	}
	return mt
}

// actorStore returns the state store marked actorStateStore, or nil.
func actorStore(stores []*state.Component) *state.Component {
	for _, s := range stores {
		if s.ActorStore {
			return s
		}
	}
	return nil
}

// actorRuntime is the runtime for the API core; nil when actors are off.
func (a *actorHost) actorRuntime() *actors.Runtime {
	if a == nil {
		return nil
	}
	return a.runtime
}

// actorStreamer is what serves a gRPC app's actor stream; nil (an untyped
// nil, so the API sees "none") unless the app speaks gRPC.
func (a *actorHost) actorStreamer() apigrpc.ActorStreamer {
	if a == nil || a.stream == nil {
		return nil
	}
	return a.stream
}

// start connects to placement and starts timers and reminders. ctx must
// outlive the API servers: the runtime drains through placement on stop.
func (a *actorHost) start(ctx context.Context) {
	if a == nil {
		return
	}
	ctx, a.cancel = context.WithCancel(ctx)
	a.goRun(func() {
		if err := a.runtime.Run(ctx); err != nil {
			a.log.Error("actor runtime stopped", "error", err)
		}
	})
	a.goRun(func() { a.timers.Run(ctx) })
	if a.reminders != nil {
		a.goRun(func() {
			if err := a.reminders.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				a.log.Error("actor reminders stopped", "error", err)
			}
		})
	}
}

func (a *actorHost) goRun(fn func()) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		fn()
	}()
}

// appReady loads the app's actor configuration once the app is healthy,
// and follows its health from then on. A gRPC app pushes its configuration
// through its actor stream instead.
func (a *actorHost) appReady(ctx context.Context, inv *invocation) {
	if a == nil {
		return
	}
	if a.stream != nil {
		a.runtime.ApplyAppConfig(actors.AppConfig{})
		a.stream.OnConfig(a.runtime.ApplyAppConfig)
		return
	}
	a.goRun(func() {
		if inv.health != nil {
			if err := inv.health.Ready(ctx); err != nil {
				return
			}
			inv.health.OnChange(a.runtime.SetAppHealthy)
		}
		if err := a.runtime.LoadAppConfig(ctx); err != nil {
			a.log.Error("could not load the app's actor configuration; hosting no actors", "error", err)
			a.runtime.ApplyAppConfig(actors.AppConfig{})
		}
	})
}

// stop deactivates every actor (draining in-flight calls within grace),
// then stops placement, timers and reminders.
func (a *actorHost) stop(grace time.Duration) {
	if a == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	a.runtime.Shutdown(ctx)
	cancel()
	if a.stream != nil {
		a.stream.Close()
	}
	if a.cancel != nil {
		a.cancel()
	}
	a.wg.Wait()
}

// timerAdapter presents the timers package to the runtime.
type timerAdapter struct{ t *timers.Timers }

func (ta timerAdapter) Create(req actors.TimerRequest) error {
	return ta.t.Create(timers.CreateRequest{
		ActorType: req.ActorType, ActorID: req.ActorID, Name: req.Name,
		DueTime: req.DueTime, Period: req.Period, TTL: req.TTL, Callback: req.Callback, Data: req.Data,
	})
}
func (ta timerAdapter) Delete(actorType, actorID, name string) { ta.t.Delete(actorType, actorID, name) }
func (ta timerAdapter) DeleteActor(actorType, actorID string)  { ta.t.DeleteActor(actorType, actorID) }

// reminderAdapter presents the reminders package to the runtime.
type reminderAdapter struct{ s *reminders.Service }

func (ra reminderAdapter) Create(ctx context.Context, req actors.ReminderRequest) error {
	return reminderErr(ra.s.Create(ctx, reminders.CreateRequest{
		ActorType: req.ActorType, ActorID: req.ActorID, Name: req.Name,
		DueTime: req.DueTime, Period: req.Period, TTL: req.TTL, Data: req.Data, Overwrite: req.Overwrite,
	}))
}

func (ra reminderAdapter) Get(ctx context.Context, actorType, actorID, name string) (actors.Reminder, error) {
	r, err := ra.s.Get(ctx, actorType, actorID, name)
	if err != nil {
		return actors.Reminder{}, reminderErr(err)
	}
	return toActorReminder(r), nil
}

// Delete succeeds for a reminder that does not exist: deleting is
// idempotent.
func (ra reminderAdapter) Delete(ctx context.Context, actorType, actorID, name string) error {
	if err := ra.s.Delete(ctx, actorType, actorID, name); err != nil && !errors.Is(err, reminders.ErrNotFound) {
		return err
	}
	return nil
}

func (ra reminderAdapter) List(ctx context.Context, actorType, actorID string) ([]actors.Reminder, error) {
	list, err := ra.s.List(ctx, actorType, actorID)
	if err != nil {
		return nil, reminderErr(err)
	}
	out := make([]actors.Reminder, 0, len(list))
	for _, r := range list {
		out = append(out, toActorReminder(r))
	}
	return out, nil
}

func (ra reminderAdapter) DeleteByType(ctx context.Context, actorType, actorID string) error {
	return reminderErr(ra.s.DeleteByType(ctx, actorType, actorID))
}

func (ra reminderAdapter) Rebalance(ctx context.Context) { ra.s.Rebalance(ctx) }

func toActorReminder(r reminders.Reminder) actors.Reminder {
	return actors.Reminder{ActorType: r.ActorType, ActorID: r.ActorID, Name: r.Name, DueTime: r.DueTime, Period: r.Period, TTL: r.TTL, Data: r.Data}
}

// reminderErr maps the reminder service's errors to the runtime's.
func reminderErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, reminders.ErrNotFound):
		return fmt.Errorf("%w: %w", actors.ErrReminderNotFound, err)
	case errors.Is(err, reminders.ErrExists):
		return fmt.Errorf("%w: %w", actors.ErrReminderExists, err)
	}
	return err
}
