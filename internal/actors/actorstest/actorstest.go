// Package actorstest builds actor runtimes over in-memory fakes of their
// collaborators, for tests of the layers above the runtime (the API).
package actorstest

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/outrigger/outrigger/internal/actors"
	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/memory"
)

// Self is the fake host name of the runtime under test.
const Self = "127.0.0.1:50002"

// Placement owns every actor on Self, except for types listed in Foreign
// (owned by another host) and NoHost (served by no host).
type Placement struct {
	Foreign map[string]bool
	NoHost  map[string]bool
}

func (p *Placement) Run(ctx context.Context) error { <-ctx.Done(); return nil }
func (p *Placement) SetHostedTypes([]string)       {}

func (p *Placement) LookupActor(_ context.Context, typ, _ string) (actors.Host, error) {
	switch {
	case p.NoHost[typ]:
		return actors.Host{}, actors.ErrNoHost
	case p.Foreign[typ]:
		return actors.Host{Name: "10.9.9.9:50002"}, nil
	}
	return actors.Host{Name: Self}, nil
}

// App answers method calls by method name: "fail" answers 500, "apperror"
// answers 400 marked as an actor error, anything else echoes the body.
type App struct {
	Entities []string
}

func (a *App) Config(context.Context) (actors.AppConfig, error) {
	return actors.AppConfig{Entities: a.Entities}, nil
}

func (a *App) InvokeMethod(_ context.Context, req *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error) {
	body := req.GetMessage().GetData().GetValue()
	resp := &internalsv1.InternalInvokeResponse{
		Status:  &internalsv1.Status{Code: 200},
		Headers: map[string]*internalsv1.ListStringValue{},
		Message: &commonv1.InvokeResponse{Data: &anypb.Any{Value: body}, ContentType: "application/json"},
	}
	switch strings.TrimPrefix(req.GetMessage().GetMethod(), "/") {
	case "fail":
		resp.Status.Code = 500
		resp.Message.Data.Value = []byte("kaput")
	case "apperror":
		resp.Status.Code = 400
		resp.Message.Data.Value = []byte(`{"reason":"bad"}`)
		resp.Headers["X-Daprerrorresponseheader"] = &internalsv1.ListStringValue{Values: []string{"true"}}
	}
	return resp, nil
}

func (a *App) Timer(context.Context, string, string, string, actors.TimerCall) (bool, error) {
	return false, nil
}

func (a *App) Reminder(context.Context, string, string, string, actors.ReminderCall) (bool, error) {
	return false, nil
}

func (a *App) Deactivate(context.Context, string, string) error { return nil }

// Timers records created timers.
type Timers struct {
	mu      sync.Mutex
	Created []actors.TimerRequest
}

func (t *Timers) Create(req actors.TimerRequest) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.Created = append(t.Created, req)
	return nil
}
func (t *Timers) Delete(string, string, string) {}
func (t *Timers) DeleteActor(string, string)    {}

// Reminders keeps reminders in a map.
type Reminders struct {
	mu sync.Mutex
	m  map[string]actors.Reminder
}

func key(typ, id, name string) string { return typ + "||" + id + "||" + name }

func (r *Reminders) Create(_ context.Context, req actors.ReminderRequest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]actors.Reminder{}
	}
	k := key(req.ActorType, req.ActorID, req.Name)
	if _, ok := r.m[k]; ok && req.Overwrite != nil && !*req.Overwrite {
		return actors.ErrReminderExists
	}
	r.m[k] = actors.Reminder{ActorType: req.ActorType, ActorID: req.ActorID, Name: req.Name, DueTime: req.DueTime, Period: req.Period, TTL: req.TTL, Data: req.Data}
	return nil
}

func (r *Reminders) Get(_ context.Context, typ, id, name string) (actors.Reminder, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rem, ok := r.m[key(typ, id, name)]
	if !ok {
		return actors.Reminder{}, actors.ErrReminderNotFound
	}
	return rem, nil
}

func (r *Reminders) Delete(_ context.Context, typ, id, name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, key(typ, id, name))
	return nil
}

func (r *Reminders) List(_ context.Context, typ, id string) ([]actors.Reminder, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []actors.Reminder
	for _, rem := range r.m {
		if rem.ActorType == typ && (id == "" || rem.ActorID == id) {
			out = append(out, rem)
		}
	}
	return out, nil
}

func (r *Reminders) DeleteByType(_ context.Context, typ, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, rem := range r.m {
		if rem.ActorType == typ && (id == "" || rem.ActorID == id) {
			delete(r.m, k)
		}
	}
	return nil
}

func (r *Reminders) Rebalance(context.Context) {}

// Options shape a test runtime.
type Options struct {
	// NoStateStore leaves out the actor state store.
	NoStateStore bool
	Placement    *Placement
	// Entities are the hosted types; default "myactor".
	Entities []string
}

// New starts a runtime (app id "myapp") hosting opts.Entities, with an
// in-memory actor state store, and stops it when the test ends.
func New(t testing.TB, opts Options) *actors.Runtime {
	t.Helper()
	if opts.Placement == nil {
		opts.Placement = &Placement{}
	}
	if opts.Entities == nil {
		opts.Entities = []string{"myactor"}
	}
	cfg := actors.Config{
		AppID: "myapp", HostName: Self, Placement: opts.Placement, App: &App{Entities: opts.Entities},
		Timers: &Timers{}, Reminders: &Reminders{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if !opts.NoStateStore {
		s := memory.New()
		if err := s.Init(context.Background(), state.Metadata{Name: "actorstore"}); err != nil {
			t.Fatal(err)
		}
		cfg.StateStore = state.NewComponent("actorstore", "state.in-memory", "v1", s, state.KeyScheme{}, true)
	}
	rt := actors.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = rt.Run(ctx)
	}()
	if err := rt.LoadAppConfig(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-done })
	return rt
}
