package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/outrigger/outrigger/internal/actors"
	"github.com/outrigger/outrigger/internal/testutil"
)

// fakeDapr serves only SubscribeActorEventsAlpha1, handing it to the host
// the way the sidecar's gRPC API does.
type fakeDapr struct {
	runtimev1.UnimplementedDaprServer
	host *StreamHost
}

func (f *fakeDapr) SubscribeActorEventsAlpha1(stream runtimev1.Dapr_SubscribeActorEventsAlpha1Server) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	return f.host.Serve(stream.Context(), first.GetInitialRequest(), stream.Send, stream.Recv)
}

// hookLog records what OnConfig reported.
type hookLog struct {
	mu      sync.Mutex
	configs []actors.AppConfig
}

func (l *hookLog) record(c actors.AppConfig) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.configs = append(l.configs, c)
}

func (l *hookLog) snapshot() []actors.AppConfig {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]actors.AppConfig(nil), l.configs...)
}

// startHost runs a StreamHost behind an in-process gRPC server and returns
// a client for the app side.
func startHost(t *testing.T) (*StreamHost, runtimev1.DaprClient, *hookLog) {
	t.Helper()
	host := NewStreamHost(nil)
	hooks := &hookLog{}
	host.OnConfig(hooks.record)
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	runtimev1.RegisterDaprServer(srv, &fakeDapr{host: host})
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	conn, err := grpc.NewClient("passthrough:///actors",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		host.Close()
		srv.Stop()
		<-served
	})
	return host, runtimev1.NewDaprClient(conn), hooks
}

// streamApp is a gRPC app holding the actor stream open.
type streamApp struct {
	stream   runtimev1.Dapr_SubscribeActorEventsAlpha1Client
	cancel   context.CancelFunc
	requests chan *runtimev1.SubscribeActorEventsResponseAlpha1
	done     chan struct{}
}

func openApp(t *testing.T, client runtimev1.DaprClient, initial *runtimev1.SubscribeActorEventsRequestInitialAlpha1) *streamApp {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := client.SubscribeActorEventsAlpha1(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := stream.Send(&runtimev1.SubscribeActorEventsRequestAlpha1{
		RequestType: &runtimev1.SubscribeActorEventsRequestAlpha1_InitialRequest{InitialRequest: initial},
	}); err != nil {
		cancel()
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil || first.GetInitialResponse() == nil {
		cancel()
		t.Fatalf("first message = %v, %v; want initial_response", first, err)
	}
	a := &streamApp{stream: stream, cancel: cancel, requests: make(chan *runtimev1.SubscribeActorEventsResponseAlpha1, 64), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for {
			m, err := stream.Recv()
			if err != nil {
				close(a.requests)
				return
			}
			a.requests <- m
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-a.done
	})
	return a
}

// next returns the next request the sidecar sent.
func (a *streamApp) next(t *testing.T) *runtimev1.SubscribeActorEventsResponseAlpha1 {
	t.Helper()
	select {
	case m, ok := <-a.requests:
		if !ok {
			t.Fatal("the stream ended")
		}
		return m
	case <-time.After(20 * time.Second):
		t.Fatal("no request from the sidecar")
	}
	return nil
}

func (a *streamApp) answer(t *testing.T, m *runtimev1.SubscribeActorEventsRequestAlpha1) {
	t.Helper()
	if err := a.stream.Send(m); err != nil {
		t.Fatal(err)
	}
}

// close ends the stream from the app's side and waits until the sidecar
// has ended it too.
func (a *streamApp) close(t *testing.T) {
	t.Helper()
	if err := a.stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the sidecar did not end the stream")
	}
}

func invokeAnswerMsg(id string, data string, md map[string]string, isErr bool) *runtimev1.SubscribeActorEventsRequestAlpha1 {
	return &runtimev1.SubscribeActorEventsRequestAlpha1{RequestType: &runtimev1.SubscribeActorEventsRequestAlpha1_InvokeResponse{
		InvokeResponse: &runtimev1.SubscribeActorEventsRequestInvokeResponseAlpha1{Id: id, Data: []byte(data), Metadata: md, Error: isErr},
	}}
}

func failedMsg(id string, code codes.Code, msg string) *runtimev1.SubscribeActorEventsRequestAlpha1 {
	return &runtimev1.SubscribeActorEventsRequestAlpha1{RequestType: &runtimev1.SubscribeActorEventsRequestAlpha1_RequestFailed{
		RequestFailed: &runtimev1.SubscribeActorEventsRequestFailedAlpha1{Id: id, Code: uint32(code), Message: msg},
	}}
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, 20*time.Second, what, cond)
}

type invokeResult struct {
	status int32
	data   string
	err    error
}

func goInvoke(ctx context.Context, h *StreamHost, method, data string) <-chan invokeResult {
	out := make(chan invokeResult, 1)
	go func() {
		resp, err := h.InvokeMethod(ctx, invokeRequest("cart", "1", method, "application/json", []byte(data), nil))
		out <- invokeResult{status: resp.GetStatus().GetCode(), data: string(resp.GetMessage().GetData().GetValue()), err: err}
	}()
	return out
}

func wait[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatal("timed out")
	}
	var zero T
	return zero
}

func TestStreamConfigWaitsForStream(t *testing.T) {
	host, client, hooks := startHost(t)
	got := make(chan actors.AppConfig, 1)
	go func() {
		cfg, _ := host.Config(testCtx(t))
		got <- cfg
	}()
	openApp(t, client, &runtimev1.SubscribeActorEventsRequestInitialAlpha1{Entities: []string{"cart"}})
	if cfg := wait(t, got); !reflect.DeepEqual(cfg.Entities, []string{"cart"}) {
		t.Fatalf("Config entities = %v, want [cart]", cfg.Entities)
	}
	waitFor(t, "the OnConfig hook", func() bool { return len(hooks.snapshot()) == 1 })
	if c := hooks.snapshot()[0]; !reflect.DeepEqual(c.Entities, []string{"cart"}) {
		t.Fatalf("hook got %+v", c)
	}
}

func TestStreamConfigWithoutStream(t *testing.T) {
	host, _, _ := startHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	cfg, err := host.Config(ctx)
	if err != nil || cfg.Entities != nil {
		t.Fatalf("Config = %+v, %v; want empty, nil", cfg, err)
	}
	if _, err := host.InvokeMethod(testCtx(t), invokeRequest("cart", "1", "m", "", nil, nil)); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("InvokeMethod error = %v, want ErrNotConnected", err)
	}
}

func TestStreamInvokeRoundTrip(t *testing.T) {
	host, client, _ := startHost(t)
	app := openApp(t, client, &runtimev1.SubscribeActorEventsRequestInitialAlpha1{Entities: []string{"cart"}})

	res := make(chan invokeResult, 1)
	var resp = make(chan map[string][]string, 1)
	go func() {
		req := invokeRequest("cart", "c1", "add", "application/json", []byte(`{"n":2}`), map[string][]string{
			"x-custom": {"a", "b"}, "dapr-api-token": {"callers"}, "Dapr-Reentrancy-Id": {"r1"},
		})
		r, err := host.InvokeMethod(testCtx(t), req)
		res <- invokeResult{status: r.GetStatus().GetCode(), data: string(r.GetMessage().GetData().GetValue()), err: err}
		hs := map[string][]string{}
		for k, v := range r.GetHeaders() {
			hs[k] = v.GetValues()
		}
		hs["content-type:"] = []string{r.GetMessage().GetContentType()}
		resp <- hs
	}()

	in := app.next(t).GetInvokeRequest()
	if in == nil {
		t.Fatal("want an invoke_request")
	}
	if in.GetActorType() != "cart" || in.GetActorId() != "c1" || in.GetMethod() != "add" || string(in.GetData()) != `{"n":2}` {
		t.Fatalf("invoke_request = %v", in)
	}
	wantMD := map[string]string{"x-custom": "a", "dapr-reentrancy-id": "r1", "content-type": "application/json"}
	if !reflect.DeepEqual(in.GetMetadata(), wantMD) {
		t.Fatalf("metadata = %v, want %v", in.GetMetadata(), wantMD)
	}
	app.answer(t, invokeAnswerMsg(in.GetId(), "done", map[string]string{"content-type": "text/plain", "X-Extra": "1"}, true))

	r := wait(t, res)
	if r.err != nil || r.status != http.StatusOK || r.data != "done" {
		t.Fatalf("result = %+v", r)
	}
	hs := wait(t, resp)
	want := map[string][]string{
		"content-type": {"text/plain"}, "x-extra": {"1"}, "x-daprerrorresponseheader": {"true"}, "content-type:": {"text/plain"},
	}
	if !reflect.DeepEqual(hs, want) {
		t.Fatalf("headers = %v, want %v", hs, want)
	}
}

func TestStreamConcurrentCallsMatchedByID(t *testing.T) {
	host, client, _ := startHost(t)
	app := openApp(t, client, &runtimev1.SubscribeActorEventsRequestInitialAlpha1{Entities: []string{"cart"}})
	const n = 20
	results := make([]<-chan invokeResult, n)
	for i := range n {
		results[i] = goInvoke(testCtx(t), host, "m", strconv.Itoa(i))
	}
	// Collect every request, then answer in reverse order, echoing the data.
	reqs := make([]*runtimev1.SubscribeActorEventsResponseInvokeRequestAlpha1, 0, n)
	ids := map[string]bool{}
	for range n {
		in := app.next(t).GetInvokeRequest()
		if ids[in.GetId()] {
			t.Fatalf("id %q used twice", in.GetId())
		}
		ids[in.GetId()] = true
		reqs = append(reqs, in)
	}
	for i := len(reqs) - 1; i >= 0; i-- {
		app.answer(t, invokeAnswerMsg(reqs[i].GetId(), "echo:"+string(reqs[i].GetData()), nil, false))
	}
	for i := range n {
		r := wait(t, results[i])
		if r.err != nil || r.data != fmt.Sprintf("echo:%d", i) {
			t.Fatalf("call %d got %+v", i, r)
		}
	}
}

func TestStreamRequestFailed(t *testing.T) {
	tests := []struct {
		code       codes.Code
		wantStatus int32
	}{
		{codes.NotFound, http.StatusNotFound},
		{codes.Internal, http.StatusInternalServerError},
		{codes.InvalidArgument, http.StatusBadRequest},
		{codes.OK, http.StatusInternalServerError}, // a failure claiming OK still failed
	}
	host, client, _ := startHost(t)
	app := openApp(t, client, &runtimev1.SubscribeActorEventsRequestInitialAlpha1{Entities: []string{"cart"}})
	for _, tt := range tests {
		t.Run(tt.code.String(), func(t *testing.T) {
			res := goInvoke(testCtx(t), host, "missing", "")
			in := app.next(t).GetInvokeRequest()
			app.answer(t, failedMsg(in.GetId(), tt.code, "no such method"))
			r := wait(t, res)
			if r.err != nil || r.status != tt.wantStatus || r.data != "no such method" {
				t.Fatalf("result = %+v, want status %d", r, tt.wantStatus)
			}
		})
	}
}

func TestStreamTimerReminderDeactivate(t *testing.T) {
	host, client, _ := startHost(t)
	app := openApp(t, client, &runtimev1.SubscribeActorEventsRequestInitialAlpha1{Entities: []string{"cart"}})
	ctx := testCtx(t)

	type fireResult struct {
		cancel bool
		err    error
	}
	fire := func(f func() (bool, error)) <-chan fireResult {
		out := make(chan fireResult, 1)
		go func() {
			c, err := f()
			out <- fireResult{c, err}
		}()
		return out
	}

	// Timer, cancelled by the app.
	res := fire(func() (bool, error) {
		return host.Timer(ctx, "cart", "1", "tick", actors.TimerCall{Callback: "onTick", Data: []byte(`{"a":1}`), DueTime: "1s", Period: "2s"})
	})
	tr := app.next(t).GetTimerRequest()
	if tr.GetActorType() != "cart" || tr.GetActorId() != "1" || tr.GetName() != "tick" || tr.GetCallback() != "onTick" || tr.GetDueTime() != "1s" || tr.GetPeriod() != "2s" {
		t.Fatalf("timer_request = %v", tr)
	}
	var bv wrapperspb.BytesValue
	if err := tr.GetData().UnmarshalTo(&bv); err != nil || string(bv.GetValue()) != `{"a":1}` {
		t.Fatalf("timer data = %v (%v), want BytesValue {\"a\":1}", tr.GetData(), err)
	}
	app.answer(t, &runtimev1.SubscribeActorEventsRequestAlpha1{RequestType: &runtimev1.SubscribeActorEventsRequestAlpha1_TimerResponse{
		TimerResponse: &runtimev1.SubscribeActorEventsRequestReminderResponseAlpha1{Id: tr.GetId(), Cancel: true},
	}})
	if r := wait(t, res); r.err != nil || !r.cancel {
		t.Fatalf("timer result = %+v, want cancel", r)
	}

	// Reminder without data, kept.
	res = fire(func() (bool, error) {
		return host.Reminder(ctx, "cart", "1", "rem", actors.ReminderCall{DueTime: "0s"})
	})
	rr := app.next(t).GetReminderRequest()
	if rr.GetName() != "rem" || rr.GetData() != nil {
		t.Fatalf("reminder_request = %v", rr)
	}
	app.answer(t, &runtimev1.SubscribeActorEventsRequestAlpha1{RequestType: &runtimev1.SubscribeActorEventsRequestAlpha1_ReminderResponse{
		ReminderResponse: &runtimev1.SubscribeActorEventsRequestReminderResponseAlpha1{Id: rr.GetId()},
	}})
	if r := wait(t, res); r.err != nil || r.cancel {
		t.Fatalf("reminder result = %+v, want no cancel", r)
	}

	// Reminder failing in the app.
	res = fire(func() (bool, error) {
		return host.Reminder(ctx, "cart", "1", "rem", actors.ReminderCall{Data: []byte(`1`)})
	})
	rr = app.next(t).GetReminderRequest()
	app.answer(t, failedMsg(rr.GetId(), codes.Internal, "kaput"))
	if r := wait(t, res); r.err == nil {
		t.Fatal("a failed reminder reported success")
	}

	// Deactivate, then a deactivate the app answers with the wrong kind.
	errs := make(chan error, 1)
	go func() { errs <- host.Deactivate(ctx, "cart", "1") }()
	dr := app.next(t).GetDeactivateRequest()
	if dr.GetActorType() != "cart" || dr.GetActorId() != "1" {
		t.Fatalf("deactivate_request = %v", dr)
	}
	app.answer(t, &runtimev1.SubscribeActorEventsRequestAlpha1{RequestType: &runtimev1.SubscribeActorEventsRequestAlpha1_DeactivateResponse{
		DeactivateResponse: &runtimev1.SubscribeActorEventsRequestDeactivateResponseAlpha1{Id: dr.GetId()},
	}})
	if err := wait(t, errs); err != nil {
		t.Fatal(err)
	}
	go func() { errs <- host.Deactivate(ctx, "cart", "2") }()
	dr = app.next(t).GetDeactivateRequest()
	app.answer(t, invokeAnswerMsg(dr.GetId(), "", nil, false))
	if err := wait(t, errs); err == nil {
		t.Fatal("a deactivate answered with invoke_response succeeded")
	}
}

func TestStreamEndFailsPendingCalls(t *testing.T) {
	host, client, hooks := startHost(t)
	app := openApp(t, client, &runtimev1.SubscribeActorEventsRequestInitialAlpha1{Entities: []string{"cart"}})
	res := goInvoke(testCtx(t), host, "slow", "")
	app.next(t) // received, never answered
	app.close(t)

	if r := wait(t, res); !errors.Is(r.err, ErrDisconnected) {
		t.Fatalf("pending call error = %v, want ErrDisconnected", r.err)
	}
	if _, err := host.InvokeMethod(testCtx(t), invokeRequest("cart", "1", "m", "", nil, nil)); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("call after the end = %v, want ErrNotConnected", err)
	}
	waitFor(t, "the hook to report no actors", func() bool {
		c := hooks.snapshot()
		return len(c) == 2 && c[1].Entities == nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if cfg, err := host.Config(ctx); err != nil || cfg.Entities != nil {
		t.Fatalf("Config after the end = %+v, %v; want empty", cfg, err)
	}
}

func TestStreamNewestTakesNewCalls(t *testing.T) {
	host, client, hooks := startHost(t)
	older := openApp(t, client, &runtimev1.SubscribeActorEventsRequestInitialAlpha1{Entities: []string{"old"}})
	// A call the older stream has accepted before the newer one arrives.
	inflight := goInvoke(testCtx(t), host, "m", "before")
	oldReq := older.next(t).GetInvokeRequest()

	newer := openApp(t, client, &runtimev1.SubscribeActorEventsRequestInitialAlpha1{Entities: []string{"new"}})
	if cfg, _ := host.Config(testCtx(t)); !reflect.DeepEqual(cfg.Entities, []string{"new"}) {
		t.Fatalf("Config entities = %v, want [new]", cfg.Entities)
	}
	res := goInvoke(testCtx(t), host, "m", "after")
	if in := newer.next(t).GetInvokeRequest(); string(in.GetData()) != "after" {
		t.Fatalf("newer stream got %v", in)
	} else {
		newer.answer(t, invokeAnswerMsg(in.GetId(), "from-new", nil, false))
	}
	if r := wait(t, res); r.err != nil || r.data != "from-new" {
		t.Fatalf("new call = %+v", r)
	}
	// The older stream still finishes what it had.
	older.answer(t, invokeAnswerMsg(oldReq.GetId(), "from-old", nil, false))
	if r := wait(t, inflight); r.err != nil || r.data != "from-old" {
		t.Fatalf("in-flight call = %+v", r)
	}

	// When the newer stream ends, the older one is current again.
	newer.close(t)
	waitFor(t, "the hook to report the older config", func() bool {
		c := hooks.snapshot()
		return len(c) == 3 && reflect.DeepEqual(c[2].Entities, []string{"old"})
	})
	res = goInvoke(testCtx(t), host, "m", "again")
	in := older.next(t).GetInvokeRequest()
	older.answer(t, invokeAnswerMsg(in.GetId(), "old-again", nil, false))
	if r := wait(t, res); r.err != nil || r.data != "old-again" {
		t.Fatalf("call after the newer ended = %+v", r)
	}
}

func TestStreamBadStart(t *testing.T) {
	_, client, _ := startHost(t)
	ctx := testCtx(t)
	stream, err := client.SubscribeActorEventsAlpha1(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// An answer before the initial request.
	if err := stream.Send(invokeAnswerMsg("1", "", nil, false)); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("error = %v, want InvalidArgument", err)
	}

	// An initial request with a bad value.
	stream, err = client.SubscribeActorEventsAlpha1(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&runtimev1.SubscribeActorEventsRequestAlpha1{RequestType: &runtimev1.SubscribeActorEventsRequestAlpha1_InitialRequest{
		InitialRequest: &runtimev1.SubscribeActorEventsRequestInitialAlpha1{Entities: []string{"cart"}, ActorIdleTimeout: durationpb.New(-time.Minute)},
	}}); err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "actor_idle_timeout") {
		t.Fatalf("error = %v, want InvalidArgument naming actor_idle_timeout", err)
	}
}

func TestStreamHostClose(t *testing.T) {
	host, client, _ := startHost(t)
	app := openApp(t, client, &runtimev1.SubscribeActorEventsRequestInitialAlpha1{Entities: []string{"cart"}})
	res := goInvoke(testCtx(t), host, "m", "")
	app.next(t)
	host.Close()
	if r := wait(t, res); !errors.Is(r.err, ErrHostClosed) {
		t.Fatalf("pending call error = %v, want ErrHostClosed", r.err)
	}
	select {
	case <-app.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the stream did not end")
	}
	if cfg, err := host.Config(testCtx(t)); err != nil || cfg.Entities != nil {
		t.Fatalf("Config after Close = %+v, %v", cfg, err)
	}
	// A new stream is refused.
	stream, err := client.SubscribeActorEventsAlpha1(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	_ = stream.Send(&runtimev1.SubscribeActorEventsRequestAlpha1{
		RequestType: &runtimev1.SubscribeActorEventsRequestAlpha1_InitialRequest{InitialRequest: &runtimev1.SubscribeActorEventsRequestInitialAlpha1{}},
	})
	if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
		t.Fatalf("new stream after Close: %v, want Unavailable", err)
	}
}

func TestStreamCallerGivesUp(t *testing.T) {
	host, client, _ := startHost(t)
	app := openApp(t, client, &runtimev1.SubscribeActorEventsRequestInitialAlpha1{Entities: []string{"cart"}})
	ctx, cancel := context.WithCancel(context.Background())
	res := goInvoke(ctx, host, "m", "")
	in := app.next(t).GetInvokeRequest()
	cancel()
	if r := wait(t, res); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", r.err)
	}
	// A late answer is dropped and the stream keeps working.
	app.answer(t, invokeAnswerMsg(in.GetId(), "late", nil, false))
	res = goInvoke(testCtx(t), host, "m", "")
	in = app.next(t).GetInvokeRequest()
	app.answer(t, invokeAnswerMsg(in.GetId(), "ok", nil, false))
	if r := wait(t, res); r.err != nil || r.data != "ok" {
		t.Fatalf("next call = %+v", r)
	}
}
