package compat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dapr/go-sdk/actor"
	dapr "github.com/dapr/go-sdk/client"
	daprhttp "github.com/dapr/go-sdk/service/http"

	"github.com/outrigger/outrigger/compat/harness"
)

// The Go SDK keeps its actor runtime and its default client (which the
// actor state manager uses) in package globals, so the actor app cannot
// share a process with the tests: the test binary re-executes itself as the
// app when goActorAppEnv is set, before any test runs.
const (
	goActorAppEnv = "COMPAT_GO_ACTOR_APP_PORT"
	goActorType   = "CompatGoCounter"
	// actorPoll bounds every wait for placement, timers and reminders.
	actorPoll = 30 * time.Second
)

func init() {
	if port := os.Getenv(goActorAppEnv); port != "" {
		os.Exit(runGoActorApp(port))
	}
}

// runGoActorApp serves the CompatGoCounter actor with the SDK's HTTP
// service until SIGTERM.
func runGoActorApp(port string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	s := daprhttp.NewService("127.0.0.1:" + port)
	s.RegisterActorImplFactoryContext(func() actor.ServerContext { return &CompatGoCounter{} })
	errc := make(chan error, 1)
	go func() { errc <- s.Start() }()
	select {
	case err := <-errc:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "actor app:", err)
			return 1
		}
		return 0
	case <-ctx.Done():
	}
	if err := s.GracefulStop(); err != nil {
		fmt.Fprintln(os.Stderr, "actor app stop:", err)
		return 1
	}
	return 0
}

// AddRequest is the argument of CompatGoCounter.Add.
type AddRequest struct {
	N int `json:"n"`
}

// Counter is what CompatGoCounter's methods answer.
type Counter struct {
	Count int `json:"count"`
}

// Firing is one timer or reminder callback the app received.
type Firing struct {
	Kind string `json:"kind"` // "timer" or "reminder"
	Name string `json:"name"`
	Data string `json:"data"`
}

// firings records callbacks per actor id in the app process; the tests
// read them back through the Firings actor method.
var firings = struct {
	mu   sync.Mutex
	byID map[string][]Firing
}{byID: map[string][]Firing{}}

func recordFiring(id string, f Firing) {
	firings.mu.Lock()
	defer firings.mu.Unlock()
	firings.byID[id] = append(firings.byID[id], f)
}

// CompatGoCounter keeps a counter in actor state and records its timer and
// reminder callbacks.
type CompatGoCounter struct {
	actor.ServerImplBaseCtx
}

// Type is the actor type the app registers.
func (a *CompatGoCounter) Type() string { return goActorType }

// Add adds req.N to the "count" state and returns the new value; the SDK
// saves the state after the call.
func (a *CompatGoCounter) Add(ctx context.Context, req *AddRequest) (*Counter, error) {
	c, err := a.count(ctx)
	if err != nil {
		return nil, err
	}
	c += req.N
	if err := a.GetStateManager().Set(ctx, "count", c); err != nil {
		return nil, fmt.Errorf("set count: %w", err)
	}
	return &Counter{Count: c}, nil
}

// Get returns the "count" state, loading it through the sidecar.
func (a *CompatGoCounter) Get(ctx context.Context) (*Counter, error) {
	c, err := a.count(ctx)
	return &Counter{Count: c}, err
}

func (a *CompatGoCounter) count(ctx context.Context) (int, error) {
	sm := a.GetStateManager()
	ok, err := sm.Contains(ctx, "count")
	if err != nil || !ok {
		return 0, err
	}
	var c int
	if err := sm.Get(ctx, "count", &c); err != nil {
		return 0, fmt.Errorf("get count: %w", err)
	}
	return c, nil
}

// Fail always fails, for the error path. It has a reply value because the
// SDK drops the error of methods that return only an error.
func (a *CompatGoCounter) Fail(context.Context) (*Counter, error) {
	return nil, errors.New("failed on purpose")
}

// OnTimer is the timer callback the tests register.
func (a *CompatGoCounter) OnTimer(_ context.Context, data string) error {
	recordFiring(a.ID(), Firing{Kind: "timer", Data: data})
	return nil
}

// ReminderCall receives every reminder (actor.ReminderCallee).
func (a *CompatGoCounter) ReminderCall(name string, data []byte, _, _ string) {
	recordFiring(a.ID(), Firing{Kind: "reminder", Name: name, Data: string(data)})
}

// Firings returns the callbacks this actor id has received so far.
func (a *CompatGoCounter) Firings(context.Context) ([]Firing, error) {
	firings.mu.Lock()
	defer firings.mu.Unlock()
	return slices.Clone(firings.byID[a.ID()]), nil
}

// counterStub is the SDK's typed actor client (ImplActorClientStub fills
// in the functions).
type counterStub struct {
	id   string
	Add  func(context.Context, *AddRequest) (*Counter, error)
	Get  func(context.Context) (*Counter, error)
	Fail func(context.Context) (*Counter, error)
}

func (s *counterStub) Type() string { return goActorType }
func (s *counterStub) ID() string   { return s.id }

// goActorEnv is one placement, a sidecar hosting the Go actor app and a
// sidecar without an app, with a Go SDK client on each.
type goActorEnv struct {
	host, caller dapr.Client
	run          string
}

func TestGoSDKActors(t *testing.T) {
	e := startGoActors(t)
	scenarios := []struct {
		name string
		run  func(*testing.T, *goActorEnv)
	}{
		{"invoke", goActorInvoke},
		{"typed proxy", goActorProxy},
		{"state", goActorState},
		{"errors", goActorErrors},
		{"timer", goActorTimer},
		{"reminder", goActorReminder},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) { s.run(t, e) })
	}
}

func startGoActors(t *testing.T) *goActorEnv {
	t.Helper()
	placement := startPlacement(t)
	run := uniq(t)
	appPort := harness.FreePort(t)
	placementArgs := []string{"--placement-host-address", placement}
	host := harness.Start(t, harness.Options{
		AppID: "goactors-" + run, AppPort: appPort, AppProtocol: "http", WaitOutbound: true,
		Components: []string{actorStateStore(t)}, Args: placementArgs,
	})
	startGoActorApp(t, appPort, host.GRPCPort)
	host.WaitHealthy(t)
	caller := harness.Start(t, harness.Options{
		AppID: "goactorcaller-" + run, Components: []string{actorStateStore(t)}, Args: placementArgs,
	})
	e := &goActorEnv{host: goClient(t, host), caller: goClient(t, caller), run: run}
	waitActorsReady(t, e.caller)
	return e
}

// startGoActorApp re-executes the test binary as the actor app; its state
// manager reaches the hosting sidecar through DAPR_GRPC_PORT.
func startGoActorApp(t *testing.T, appPort, daprGRPCPort int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DAPR_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env,
		goActorAppEnv+"="+strconv.Itoa(appPort),
		"DAPR_GRPC_PORT="+strconv.Itoa(daprGRPCPort),
	)
	out := &strings.Builder{}
	var mu sync.Mutex
	cmd.Stdout = lockedWriter{&mu, out}
	cmd.Stderr = lockedWriter{&mu, out}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start Go actor app: %v", err)
	}
	t.Cleanup(func() {
		stopProcess(t, "Go actor app", cmd)
		if t.Failed() {
			mu.Lock()
			defer mu.Unlock()
			t.Logf("Go actor app output:\n%s", out.String())
		}
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// waitActorsReady polls an actor call until placement has disseminated the
// host's actor type to the caller.
func waitActorsReady(t *testing.T, c dapr.Client) {
	t.Helper()
	var last error
	deadline := time.Now().Add(actorPoll)
	for time.Now().Before(deadline) {
		_, last = c.InvokeActor(t.Context(), &dapr.InvokeActorRequest{
			ActorType: goActorType, ActorID: "ready-probe", Method: "Get",
		})
		if last == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("actor %s not callable after %s: %v", goActorType, actorPoll, last)
}

func invokeAdd(t *testing.T, c dapr.Client, id string, n int) int {
	t.Helper()
	resp, err := c.InvokeActor(t.Context(), &dapr.InvokeActorRequest{
		ActorType: goActorType, ActorID: id, Method: "Add", Data: fmt.Appendf(nil, `{"n":%d}`, n),
	})
	if err != nil {
		t.Fatalf("InvokeActor %s/%s Add: %v", goActorType, id, err)
	}
	var got Counter
	if err := json.Unmarshal(resp.Data, &got); err != nil {
		t.Fatalf("Add answered %q: %v", resp.Data, err)
	}
	return got.Count
}

// goActorInvoke calls Add through the hosting sidecar and through the one
// without the actor type, which forwards to the host.
func goActorInvoke(t *testing.T, e *goActorEnv) {
	for _, via := range []struct {
		name string
		c    dapr.Client
	}{{"local", e.host}, {"remote", e.caller}} {
		t.Run(via.name, func(t *testing.T) {
			id := "invoke-" + via.name + "-" + e.run
			if got := invokeAdd(t, via.c, id, 2); got != 2 {
				t.Errorf("first Add(2) = %d, want 2", got)
			}
			if got := invokeAdd(t, via.c, id, 3); got != 5 {
				t.Errorf("second Add(3) = %d, want 5", got)
			}
		})
	}
}

// goActorProxy uses the SDK's typed client stub.
func goActorProxy(t *testing.T, e *goActorEnv) {
	stub := &counterStub{id: "proxy-" + e.run}
	e.caller.ImplActorClientStub(stub)
	if stub.Add == nil || stub.Get == nil {
		t.Fatal("ImplActorClientStub left the stub's functions nil")
	}
	got, err := stub.Add(t.Context(), &AddRequest{N: 7})
	if err != nil || got == nil || got.Count != 7 {
		t.Fatalf("stub.Add(7) = %+v, %v; want count 7", got, err)
	}
	got, err = stub.Get(t.Context())
	if err != nil || got == nil || got.Count != 7 {
		t.Fatalf("stub.Get() = %+v, %v; want count 7", got, err)
	}
	if got, err := stub.Fail(t.Context()); err == nil {
		t.Errorf("stub.Fail() = %+v, nil; want the actor's error", got)
	}
}

// goActorState reads what the SDK's state manager saved and writes state
// the state manager then loads.
func goActorState(t *testing.T, e *goActorEnv) {
	id := "state-" + e.run
	invokeAdd(t, e.caller, id, 4)
	got, err := e.host.GetActorState(t.Context(), &dapr.GetActorStateRequest{ActorType: goActorType, ActorID: id, KeyName: "count"})
	if err != nil {
		t.Fatalf("GetActorState count: %v", err)
	}
	if string(got.Data) != "4" {
		t.Errorf("GetActorState count = %q, want 4", got.Data)
	}
	missing, err := e.host.GetActorState(t.Context(), &dapr.GetActorStateRequest{ActorType: goActorType, ActorID: id, KeyName: "nothing"})
	if err != nil || len(missing.Data) != 0 {
		t.Errorf("GetActorState of a missing key = %q, %v; want empty data and no error", missing.Data, err)
	}

	id2 := "state-tx-" + e.run
	err = e.host.SaveStateTransactionally(t.Context(), goActorType, id2, []*dapr.ActorStateOperation{
		{OperationType: "upsert", Key: "count", Value: []byte("40")},
		{OperationType: "upsert", Key: "other", Value: []byte(`"x"`)},
	})
	if err != nil {
		t.Fatalf("SaveStateTransactionally: %v", err)
	}
	if got := invokeAdd(t, e.caller, id2, 2); got != 42 {
		t.Errorf("Add(2) after a transaction set count 40 = %d, want 42", got)
	}
	err = e.host.SaveStateTransactionally(t.Context(), goActorType, id2, []*dapr.ActorStateOperation{
		{OperationType: "delete", Key: "other"},
	})
	if err != nil {
		t.Fatalf("SaveStateTransactionally delete: %v", err)
	}
	other, err := e.host.GetActorState(t.Context(), &dapr.GetActorStateRequest{ActorType: goActorType, ActorID: id2, KeyName: "other"})
	if err != nil || len(other.Data) != 0 {
		t.Errorf("GetActorState after delete = %q, %v; want empty", other.Data, err)
	}
}

// goActorErrors checks the calls that must fail do.
func goActorErrors(t *testing.T, e *goActorEnv) {
	cases := []struct {
		name string
		req  *dapr.InvokeActorRequest
	}{
		{"method returns error", &dapr.InvokeActorRequest{ActorType: goActorType, ActorID: "err-" + e.run, Method: "Fail"}},
		{"unknown method", &dapr.InvokeActorRequest{ActorType: goActorType, ActorID: "err-" + e.run, Method: "NoSuchMethod"}},
		{"unknown actor type", &dapr.InvokeActorRequest{ActorType: "NoSuchType" + e.run, ActorID: "x", Method: "Get"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			resp, err := e.caller.InvokeActor(ctx, tc.req)
			if err == nil {
				t.Fatalf("InvokeActor %s = %+v, want an error", tc.req.Method, resp)
			}
			t.Logf("error: %v", err)
		})
	}
}

// goActorTimer registers a timer on the hosting sidecar, waits for two
// callbacks with the timer's data, then unregisters it.
func goActorTimer(t *testing.T, e *goActorEnv) {
	id := "timer-" + e.run
	invokeAdd(t, e.host, id, 0) // activate
	err := e.host.RegisterActorTimer(t.Context(), &dapr.RegisterActorTimerRequest{
		ActorType: goActorType, ActorID: id, Name: "tick", DueTime: "0s", Period: "1s",
		CallBack: "OnTimer", Data: []byte(`"tick-data"`),
	})
	if err != nil {
		t.Fatalf("RegisterActorTimer: %v", err)
	}
	got := waitFirings(t, e.caller, id, "timer", 2)
	for _, f := range got {
		if f.Data != "tick-data" {
			t.Errorf("timer callback data = %q, want tick-data", f.Data)
		}
	}
	err = e.host.UnregisterActorTimer(t.Context(), &dapr.UnregisterActorTimerRequest{ActorType: goActorType, ActorID: id, Name: "tick"})
	if err != nil {
		t.Fatalf("UnregisterActorTimer: %v", err)
	}
	checkQuiet(t, e.caller, id, "timer")
}

// goActorReminder registers a reminder, waits for two callbacks with its
// data, then unregisters it.
func goActorReminder(t *testing.T, e *goActorEnv) {
	id := "reminder-" + e.run
	err := e.host.RegisterActorReminder(t.Context(), &dapr.RegisterActorReminderRequest{
		ActorType: goActorType, ActorID: id, Name: "ping", DueTime: "0s", Period: "1s",
		Data: []byte(`{"m":"remind"}`),
	})
	if err != nil {
		t.Fatalf("RegisterActorReminder: %v", err)
	}
	got := waitFirings(t, e.caller, id, "reminder", 2)
	for _, f := range got {
		if f.Name != "ping" || f.Data != `{"m":"remind"}` {
			t.Errorf("reminder callback = %+v, want name ping and data {\"m\":\"remind\"}", f)
		}
	}
	err = e.host.UnregisterActorReminder(t.Context(), &dapr.UnregisterActorReminderRequest{ActorType: goActorType, ActorID: id, Name: "ping"})
	if err != nil {
		t.Fatalf("UnregisterActorReminder: %v", err)
	}
	checkQuiet(t, e.caller, id, "reminder")
}

func actorFirings(t *testing.T, c dapr.Client, id, kind string) []Firing {
	t.Helper()
	resp, err := c.InvokeActor(t.Context(), &dapr.InvokeActorRequest{ActorType: goActorType, ActorID: id, Method: "Firings"})
	if err != nil {
		t.Fatalf("InvokeActor Firings: %v", err)
	}
	var all []Firing
	if err := json.Unmarshal(resp.Data, &all); err != nil {
		t.Fatalf("Firings answered %q: %v", resp.Data, err)
	}
	var out []Firing
	for _, f := range all {
		if f.Kind == kind {
			out = append(out, f)
		}
	}
	return out
}

func waitFirings(t *testing.T, c dapr.Client, id, kind string, n int) []Firing {
	t.Helper()
	deadline := time.Now().Add(actorPoll)
	for {
		got := actorFirings(t, c, id, kind)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s callbacks after %s, want %d: %+v", len(got), kind, actorPoll, n, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkQuiet checks no callback of kind arrives over three periods once a
// callback already under way has had time to land.
func checkQuiet(t *testing.T, c dapr.Client, id, kind string) {
	t.Helper()
	time.Sleep(1500 * time.Millisecond)
	before := len(actorFirings(t, c, id, kind))
	time.Sleep(3 * time.Second)
	if after := len(actorFirings(t, c, id, kind)); after != before {
		t.Errorf("%d more %s callbacks after unregistering", after-before, kind)
	}
}

// actorStateStore is a SQLite state store marked as the actor state store.
func actorStateStore(t *testing.T) string {
	t.Helper()
	return harness.Component(storeName, "state.sqlite", "v1", map[string]string{
		"connectionString": filepath.Join(t.TempDir(), "actors.db"),
		"actorStateStore":  "true",
	})
}

// startPlacement runs `outrigger placement` on free ports and returns its
// gRPC address once /healthz answers 200.
func startPlacement(t *testing.T) string {
	t.Helper()
	port, healthz := harness.FreePort(t), harness.FreePort(t)
	cmd := exec.Command(harness.Binary(t), "placement",
		"--port", strconv.Itoa(port),
		"--healthz-port", strconv.Itoa(healthz),
		"--metrics-port", strconv.Itoa(harness.FreePort(t)),
		"--listen-address", "127.0.0.1",
		"--healthz-listen-address", "127.0.0.1",
		// Its own Raft port: the default 8201 may be taken by another
		// placement on the machine.
		"--id", "p0", "--initial-cluster", "p0=127.0.0.1:"+strconv.Itoa(harness.FreePort(t)),
		"--log-level", "warn",
	)
	out := &strings.Builder{}
	var mu sync.Mutex
	cmd.Stdout = lockedWriter{&mu, out}
	cmd.Stderr = lockedWriter{&mu, out}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start placement: %v", err)
	}
	t.Cleanup(func() {
		stopProcess(t, "placement", cmd)
		if t.Failed() {
			mu.Lock()
			defer mu.Unlock()
			t.Logf("placement output:\n%s", out.String())
		}
	})
	url := "http://127.0.0.1:" + strconv.Itoa(healthz) + "/healthz"
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(actorPoll)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return "127.0.0.1:" + strconv.Itoa(port)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("placement not healthy at %s after %s: %v", url, actorPoll, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopProcess sends SIGTERM and kills the process if it has not exited
// within ten seconds.
func stopProcess(t *testing.T, what string, cmd *exec.Cmd) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM %s: %v", what, err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%s exited with %v after SIGTERM", what, err)
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Errorf("%s did not exit within 10s of SIGTERM", what)
	}
}
