package actors

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/memory"
	"github.com/outrigger/outrigger/internal/testutil"
)

// fakePlacement owns every actor on one host unless an override says
// otherwise; tests move actors by changing the owner function.
type fakePlacement struct {
	mu     sync.Mutex
	owner  func(typ, id string) (Host, error)
	hosted [][]string
}

func newFakePlacement(self string) *fakePlacement {
	return &fakePlacement{owner: func(string, string) (Host, error) { return Host{Name: self}, nil }}
}

func (p *fakePlacement) Run(ctx context.Context) error { <-ctx.Done(); return nil }

func (p *fakePlacement) SetHostedTypes(types []string) {
	p.mu.Lock()
	p.hosted = append(p.hosted, slices.Clone(types))
	p.mu.Unlock()
}

func (p *fakePlacement) LookupActor(ctx context.Context, typ, id string) (Host, error) {
	p.mu.Lock()
	f := p.owner
	p.mu.Unlock()
	return f(typ, id)
}

func (p *fakePlacement) LookupActorNow(typ, id string) (Host, error) {
	return p.LookupActor(context.Background(), typ, id)
}

func (p *fakePlacement) setOwner(f func(typ, id string) (Host, error)) {
	p.mu.Lock()
	p.owner = f
	p.mu.Unlock()
}

func (p *fakePlacement) lastHosted() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.hosted) == 0 {
		return nil
	}
	return p.hosted[len(p.hosted)-1]
}

// fakeApp records what the runtime asks of the app. invoke, when set,
// handles method calls; by default it echoes the body.
type fakeApp struct {
	config AppConfig
	invoke func(ctx context.Context, req *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error)
	// onDeactivate, when set, runs inside Deactivate.
	onDeactivate func()

	mu          sync.Mutex
	events      []string
	deactivated []string
	timers      []string
	reminders   []string
}

func (a *fakeApp) Config(context.Context) (AppConfig, error) { return a.config, nil }

func (a *fakeApp) InvokeMethod(ctx context.Context, req *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error) {
	if a.invoke != nil {
		return a.invoke(ctx, req)
	}
	return okResponse(req.GetMessage().GetData().GetValue()), nil
}

func (a *fakeApp) Timer(_ context.Context, typ, id, name string, _ TimerCall) (bool, error) {
	a.record(&a.timers, typ+"/"+id+"/"+name)
	return false, nil
}

func (a *fakeApp) Reminder(_ context.Context, typ, id, name string, _ ReminderCall) (bool, error) {
	a.record(&a.reminders, typ+"/"+id+"/"+name)
	return false, nil
}

func (a *fakeApp) Deactivate(_ context.Context, typ, id string) error {
	if a.onDeactivate != nil {
		a.onDeactivate()
	}
	a.record(&a.deactivated, typ+"/"+id)
	a.event("deactivate " + typ + "/" + id)
	return nil
}

func (a *fakeApp) record(list *[]string, v string) {
	a.mu.Lock()
	*list = append(*list, v)
	a.mu.Unlock()
}

func (a *fakeApp) event(e string) { a.record(&a.events, e) }

func (a *fakeApp) snapshot(list *[]string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(*list)
}

func okResponse(body []byte) *internalsv1.InternalInvokeResponse {
	return &internalsv1.InternalInvokeResponse{
		Status:  &internalsv1.Status{Code: 200},
		Message: &commonv1.InvokeResponse{Data: &anypb.Any{Value: body}, ContentType: "application/json"},
	}
}

// fakeTimers records timer operations.
type fakeTimers struct {
	mu      sync.Mutex
	created []TimerRequest
	dropped []string
}

func (t *fakeTimers) Create(req TimerRequest) error {
	t.mu.Lock()
	t.created = append(t.created, req)
	t.mu.Unlock()
	return nil
}
func (t *fakeTimers) Delete(string, string, string) {}
func (t *fakeTimers) DeleteActor(typ, id string) {
	t.mu.Lock()
	t.dropped = append(t.dropped, typ+"/"+id)
	t.mu.Unlock()
}
func (t *fakeTimers) droppedActors() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.dropped)
}

const selfHost = "10.0.0.1:50002"

type harness struct {
	rt     *Runtime
	pl     *fakePlacement
	app    *fakeApp
	timers *fakeTimers
	rems   *fakeReminders
	store  *state.Component
	cancel context.CancelFunc
	done   chan struct{}
}

// newHarness starts a runtime on a fake placement that gives every actor
// to this host.
func newHarness(t testing.TB, app *fakeApp, mod func(*Config)) *harness {
	t.Helper()
	if app.config.Entities == nil {
		app.config.Entities = []string{"counter", "other"}
	}
	st := memory.New()
	if err := st.Init(context.Background(), state.Metadata{Name: "actorstore"}); err != nil {
		t.Fatal(err)
	}
	h := &harness{pl: newFakePlacement(selfHost), app: app, timers: &fakeTimers{}, rems: newFakeReminders(), done: make(chan struct{})}
	h.store = state.NewComponent("actorstore", "state.in-memory", "v1", st, state.KeyScheme{}, true)
	cfg := Config{AppID: "app1", HostName: selfHost, Placement: h.pl, App: app, StateStore: h.store, Timers: h.timers, Reminders: h.rems,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if mod != nil {
		mod(&cfg)
	}
	h.rt = New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() {
		defer close(h.done)
		_ = h.rt.Run(ctx)
	}()
	if err := h.rt.LoadAppConfig(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	h.cancel()
	<-h.done
}

func actorCall(typ, id, method string, body []byte) *internalsv1.InternalInvokeRequest {
	return &internalsv1.InternalInvokeRequest{
		Ver:     internalsv1.APIVersion_V1,
		Actor:   &internalsv1.Actor{ActorType: typ, ActorId: id},
		Message: &commonv1.InvokeRequest{Method: method, Data: &anypb.Any{Value: body}},
	}
}

// eventually polls cond until it holds or a generous deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, 15*time.Second, what, cond)
}

// fakeReminders keeps reminders in a map.
type fakeReminders struct {
	mu         sync.Mutex
	m          map[string]Reminder
	rebalanced atomic.Int32
}

func newFakeReminders() *fakeReminders { return &fakeReminders{m: map[string]Reminder{}} }

func remKey(typ, id, name string) string { return typ + "/" + id + "/" + name }

func (f *fakeReminders) Create(_ context.Context, req ReminderRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := remKey(req.ActorType, req.ActorID, req.Name)
	if _, ok := f.m[k]; ok && req.Overwrite != nil && !*req.Overwrite {
		return ErrReminderExists
	}
	f.m[k] = Reminder{ActorType: req.ActorType, ActorID: req.ActorID, Name: req.Name, DueTime: req.DueTime, Period: req.Period, TTL: req.TTL, Data: req.Data}
	return nil
}

func (f *fakeReminders) Get(_ context.Context, typ, id, name string) (Reminder, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.m[remKey(typ, id, name)]
	if !ok {
		return Reminder{}, ErrReminderNotFound
	}
	return r, nil
}

func (f *fakeReminders) Delete(_ context.Context, typ, id, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, remKey(typ, id, name))
	return nil
}

func (f *fakeReminders) List(_ context.Context, typ, id string) ([]Reminder, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Reminder
	for _, r := range f.m {
		if r.ActorType == typ && (id == "" || r.ActorID == id) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fakeReminders) DeleteByType(_ context.Context, typ, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, r := range f.m {
		if r.ActorType == typ && (id == "" || r.ActorID == id) {
			delete(f.m, k)
		}
	}
	return nil
}

func (f *fakeReminders) Rebalance(context.Context) { f.rebalanced.Add(1) }
