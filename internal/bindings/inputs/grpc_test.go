package inputs

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"testing"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/outrigger/outrigger/internal/appchannel"
	"github.com/outrigger/outrigger/internal/bindings"
)

// grpcTestApp implements AppCallback: it lists bindings g1 and g3 and
// answers OnBindingEvent by the event's data.
type grpcTestApp struct {
	runtimev1.UnimplementedAppCallbackServer

	mu     sync.Mutex
	lists  int
	events []*runtimev1.BindingEventRequest
	tokens []string
}

func (a *grpcTestApp) ListInputBindings(context.Context, *emptypb.Empty) (*runtimev1.ListInputBindingsResponse, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lists++
	return &runtimev1.ListInputBindingsResponse{Bindings: []string{"g1", "g3"}}, nil
}

func (a *grpcTestApp) OnBindingEvent(ctx context.Context, req *runtimev1.BindingEventRequest) (*runtimev1.BindingEventResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	a.mu.Lock()
	a.events = append(a.events, req)
	a.tokens = append(a.tokens, md.Get("dapr-api-token")...)
	a.mu.Unlock()
	switch string(req.GetData()) {
	case "fail":
		return nil, errors.New("app refused")
	case "sequential":
		return &runtimev1.BindingEventResponse{Data: []byte(`{"n": 1}`), To: []string{"out1", "broken", "out2"}}, nil
	case "parallel":
		return &runtimev1.BindingEventResponse{Data: []byte("not json"), To: []string{"out1", "out2"}, Concurrency: runtimev1.BindingEventResponse_PARALLEL}, nil
	case "state":
		return &runtimev1.BindingEventResponse{StoreName: "store", States: []*commonv1.StateItem{{Key: "k", Value: []byte("v")}}}, nil
	}
	return &runtimev1.BindingEventResponse{Data: []byte("ok")}, nil
}

// unimplementedLister has no ListInputBindings.
type unimplementedLister struct{ *grpcTestApp }

func (unimplementedLister) ListInputBindings(context.Context, *emptypb.Empty) (*runtimev1.ListInputBindingsResponse, error) {
	return (&runtimev1.UnimplementedAppCallbackServer{}).ListInputBindings(context.Background(), nil)
}

func startGRPCApp(t *testing.T, srv runtimev1.AppCallbackServer) appchannel.Channel {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	runtimev1.RegisterAppCallbackServer(s, srv)
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	ch, err := appchannel.New(context.Background(), appchannel.Config{Protocol: "grpc", Port: portOf(t, ln.Addr())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.Close() })
	return ch
}

// outputs records output binding calls; "broken" fails.
type outputs struct {
	mu    sync.Mutex
	calls []string // name=data
	saved []string // store/key=value
}

func (o *outputs) send(_ context.Context, name string, req *bindings.InvokeRequest) (*bindings.InvokeResponse, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if req.Operation != "create" {
		return nil, errors.New("unexpected operation " + req.Operation)
	}
	o.calls = append(o.calls, name+"="+string(req.Data))
	if name == "broken" {
		return nil, errors.New("output failed")
	}
	return nil, nil
}

func (o *outputs) save(_ context.Context, store string, items []*commonv1.StateItem) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, it := range items {
		o.saved = append(o.saved, store+"/"+it.GetKey()+"="+string(it.GetValue()))
	}
	return nil
}

func (o *outputs) snapshot() ([]string, []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.calls), slices.Clone(o.saved)
}

func TestGRPCApp(t *testing.T) {
	app := &grpcTestApp{}
	ch := startGRPCApp(t, app)
	g1, g2, g3 := &fakeInput{}, &fakeInput{}, &fakeInput{}
	out := &outputs{}
	e := New(Config{Channel: ch, AppAPIToken: "tok", MaxConcurrency: 2, Logger: quiet, SendToOutput: out.send, SaveState: out.save,
		Bindings: []*Binding{{Name: "g1", Input: g1}, {Name: "g2", Input: g2}, {Name: "g3", Route: "/ignored", Input: g3}}})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer stopEngine(t, e)
	if got := e.Reading(); !slices.Equal(got, []string{"g1", "g3"}) {
		t.Fatalf("reading %v", got)
	}
	app.mu.Lock()
	lists := app.lists
	app.mu.Unlock()
	if lists != 1 {
		t.Fatalf("ListInputBindings called %d times, want once", lists)
	}

	answer, err := g1.fire("hello", map[string]string{"k": "v"})
	if err != nil || string(answer) != "ok" {
		t.Fatalf("deliver = %q, %v", answer, err)
	}
	app.mu.Lock()
	ev, tokens := app.events[0], slices.Clone(app.tokens)
	app.mu.Unlock()
	if ev.GetName() != "g1" || string(ev.GetData()) != "hello" || ev.GetMetadata()["k"] != "v" || !slices.Equal(tokens, []string{"tok"}) {
		t.Fatalf("event %v tokens %v", ev, tokens)
	}
	if _, err := g1.fire("fail", nil); err == nil {
		t.Fatal("an app error was not returned to the binding")
	}

	// Sequential fan-out stops at the first failing output binding.
	if _, err := g3.fire("sequential", nil); err != nil {
		t.Fatal(err)
	}
	calls, _ := out.snapshot()
	if !slices.Equal(calls, []string{`out1={"n":1}`, `broken={"n":1}`}) {
		t.Fatalf("sequential calls %v", calls)
	}
	// Parallel fan-out reaches every binding; data that is not JSON is null.
	if _, err := g3.fire("parallel", nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "parallel fan-out", func() bool { c, _ := out.snapshot(); return len(c) == 4 })
	calls, _ = out.snapshot()
	if rest := calls[2:]; !slices.Contains(rest, "out1=null") || !slices.Contains(rest, "out2=null") {
		t.Fatalf("parallel calls %v", rest)
	}
	if _, err := g1.fire("state", nil); err != nil {
		t.Fatal(err)
	}
	if _, saved := out.snapshot(); !slices.Equal(saved, []string{"store/k=v"}) {
		t.Fatalf("saved %v", saved)
	}
}

func TestGRPCAppWithoutListInputBindings(t *testing.T) {
	ch := startGRPCApp(t, unimplementedLister{&grpcTestApp{}})
	a, b := &fakeInput{}, &fakeInput{}
	e := New(Config{Channel: ch, Logger: quiet, Bindings: []*Binding{{Name: "a", Input: a}, {Name: "b", Input: b, Explicit: true}}})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer stopEngine(t, e)
	if got := e.Reading(); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("reading %v", got)
	}
}

func TestReadError(t *testing.T) {
	ch := startGRPCApp(t, &grpcTestApp{})
	bad := &fakeInput{readErr: errors.New("cannot read")}
	e := New(Config{Channel: ch, Logger: quiet, Bindings: []*Binding{{Name: "g1", Input: bad}}})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer stopEngine(t, e)
	if len(e.Reading()) != 0 {
		t.Fatalf("reading %v", e.Reading())
	}
}
