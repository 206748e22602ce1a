package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testutil"
)

// Helpers of the actor failure tests (actors_*_test.go): an in-test actor
// app per host that records every callback, placement processes, and the
// checks that no actor was ever active on two hosts at once. Names start
// with act so they never collide with the other files of the package.

// actType is the one actor type of these tests; each test has its own
// state file, so state and reminders never leak between tests.
const actType = "Counter"

// actEvent is one callback an app received: a method call, a timer or
// reminder firing (which run in the actor's turn and activate it), or a
// deactivation.
type actEvent struct {
	host  string
	id    string
	kind  string // "call", "timer", "reminder" or "deactivate"
	name  string // method, timer or reminder name
	seq   string // the caller's sequence number of a call
	start time.Time
	end   time.Time // zero while the callback runs; start for deactivations
}

// actRecorder keeps the events of every app of a test, with the times a
// host stopped being able to hold actors (killed or frozen), in one clock.
type actRecorder struct {
	mu     sync.Mutex
	events []*actEvent
	cuts   map[string][]time.Time
}

func newActRecorder() *actRecorder { return &actRecorder{cuts: map[string][]time.Time{}} }

func (r *actRecorder) begin(e *actEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.start = time.Now()
	if e.kind == "deactivate" {
		e.end = e.start
	}
	r.events = append(r.events, e)
}

func (r *actRecorder) finish(e *actEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.end = time.Now()
}

// cut records that host lost all its actors now (its process died or was
// frozen while placement gave its actors away) and returns the time.
func (r *actRecorder) cut(host string) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	r.cuts[host] = append(r.cuts[host], now)
	return now
}

// cutFrozen is cut for a host whose sidecar was just frozen (SIGSTOP). A
// call the sidecar sent just before it stopped may still reach the
// in-test app, which keeps running, a moment later: that call belongs to
// the time before the freeze, so the cut is taken once such calls have
// arrived.
func (r *actRecorder) cutFrozen(host string) time.Time {
	time.Sleep(200 * time.Millisecond)
	return r.cut(host)
}

// snapshot copies the events and cuts.
func (r *actRecorder) snapshot() ([]actEvent, map[string][]time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	evs := make([]actEvent, len(r.events))
	for i, e := range r.events {
		evs[i] = *e
	}
	cuts := make(map[string][]time.Time, len(r.cuts))
	for h, c := range r.cuts {
		cuts[h] = slices.Clone(c)
	}
	return evs, cuts
}

// find returns the events that match.
func (r *actRecorder) find(match func(e actEvent) bool) []actEvent {
	evs, _ := r.snapshot()
	var out []actEvent
	for _, e := range evs {
		if match(e) {
			out = append(out, e)
		}
	}
	return out
}

// waitEvent polls until an event matches, or fails the test after timeout.
func (r *actRecorder) waitEvent(t *testing.T, timeout time.Duration, what string, match func(e actEvent) bool) actEvent {
	t.Helper()
	var got actEvent
	ok := blkWaitFor(timeout, func() bool {
		evs := r.find(match)
		if len(evs) == 0 {
			return false
		}
		got = evs[0]
		return true
	})
	if !ok {
		t.Fatalf("no %s within %s", what, timeout)
	}
	return got
}

// firstCutAfter returns the first cut of host after t.
func firstCutAfter(cuts []time.Time, t time.Time) (time.Time, bool) {
	for _, c := range cuts {
		if c.After(t) {
			return c, true
		}
	}
	return time.Time{}, false
}

// actInterval is a span during which an actor was active on a host.
type actInterval struct {
	host     string
	from, to time.Time
}

// activeIntervals turns the events into, per actor id, the spans it was
// active on each host: from the first callback after none or after a
// deactivation, until the host's deactivation callback, or the host's
// death or freeze (a cut), or now.
func activeIntervals(evs []actEvent, cuts map[string][]time.Time, now time.Time) map[string][]actInterval {
	type key struct{ host, id string }
	by := map[key][]actEvent{}
	for _, e := range evs {
		k := key{e.host, e.id}
		by[k] = append(by[k], e)
	}
	out := map[string][]actInterval{}
	for k, list := range by {
		sort.SliceStable(list, func(i, j int) bool { return list[i].start.Before(list[j].start) })
		active := false
		var from time.Time
		closeAt := func(to time.Time) {
			out[k.id] = append(out[k.id], actInterval{host: k.host, from: from, to: to})
			active = false
		}
		for _, e := range list {
			if active {
				if c, ok := firstCutAfter(cuts[k.host], from); ok && !c.After(e.start) {
					closeAt(c)
				}
			}
			switch {
			case e.kind == "deactivate":
				if active {
					closeAt(e.start)
				}
			case !active:
				active, from = true, e.start
			}
		}
		if active {
			if c, ok := firstCutAfter(cuts[k.host], from); ok {
				closeAt(c)
			} else {
				closeAt(now)
			}
		}
	}
	return out
}

// checkExclusive fails the test when an actor id was active on two hosts
// at once, or when two callbacks of one actor overlapped (turn-based
// access), or a deactivation came while a callback ran.
func (r *actRecorder) checkExclusive(t *testing.T) {
	t.Helper()
	evs, cuts := r.snapshot()
	now := time.Now()
	problems := append(doubleActivations(evs, cuts, now), overlappingTurns(evs, cuts, now)...)
	for _, p := range problems {
		t.Error(p)
	}
	if len(problems) == 0 {
		t.Logf("checked %d app callbacks: no actor was active on two hosts at once", len(evs))
	}
}

// doubleActivations describes every time an actor id was active on two
// hosts at once.
func doubleActivations(evs []actEvent, cuts map[string][]time.Time, now time.Time) []string {
	var out []string
	for id, spans := range activeIntervals(evs, cuts, now) {
		sort.Slice(spans, func(i, j int) bool { return spans[i].from.Before(spans[j].from) })
		for i := range spans {
			for j := i + 1; j < len(spans); j++ {
				a, b := spans[i], spans[j]
				if a.host != b.host && b.from.Before(a.to) {
					out = append(out, fmt.Sprintf("actor %s active on two hosts at once: %s from %s to %s and %s from %s to %s",
						id, a.host, a.from.Format("15:04:05.000"), a.to.Format("15:04:05.000"),
						b.host, b.from.Format("15:04:05.000"), b.to.Format("15:04:05.000")))
				}
			}
		}
	}
	return out
}

// overlappingTurns describes every callback of an actor that started
// while another one of the same actor ran. A callback on a host that died
// or froze counts only up to the cut: the in-test app outlives its
// sidecar.
func overlappingTurns(evs []actEvent, cuts map[string][]time.Time, now time.Time) []string {
	byID := map[string][]actEvent{}
	for _, e := range evs {
		if e.end.IsZero() {
			e.end = now
		}
		if c, ok := firstCutAfter(cuts[e.host], e.start); ok && c.Before(e.end) {
			e.end = c
		}
		byID[e.id] = append(byID[e.id], e)
	}
	var out []string
	for id, list := range byID {
		sort.SliceStable(list, func(i, j int) bool { return list[i].start.Before(list[j].start) })
		var last actEvent
		for i, e := range list {
			if i > 0 && e.start.Before(last.end) {
				out = append(out, fmt.Sprintf("actor %s: %s %s on %s started at %s while %s %s on %s ran until %s",
					id, e.kind, e.name, e.host, e.start.Format("15:04:05.000"),
					last.kind, last.name, last.host, last.end.Format("15:04:05.000")))
			}
			if i == 0 || e.end.After(last.end) {
				last = e
			}
		}
	}
	return out
}

// actMethodBody is what callers send to an actor method.
type actMethodBody struct {
	Seq     string `json:"seq"`
	SleepMs int    `json:"sleepMs"`
}

// actReply is what the app answers to a method call.
type actReply struct {
	Host string `json:"host"`
	Seq  string `json:"seq"`
	N    int    `json:"n"`
}

// actHost is the in-test actor app of one host. Methods: "work" (sleeps),
// "incr" (adds one to the actor's state "n" through its own sidecar and
// answers the new value), "starttimer" (registers a 300 ms timer "tick").
type actHost struct {
	name string
	rec  *actRecorder
	idle string // actorIdleTimeout
	// car is the host's sidecar, for state and timer calls; set after it
	// started.
	car atomic.Pointer[sidecar]
	// down: the host was killed; its app answers 503 and records nothing,
	// as a killed app process would not.
	down atomic.Bool
	srv  *httptest.Server
}

func (h *actHost) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /dapr/config", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"entities": []string{actType}, "actorIdleTimeout": h.idle,
			"drainOngoingCallTimeout": "10s", "drainRebalancedActors": true,
		})
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("PUT /actors/{type}/{id}/method/timer/{name}", func(w http.ResponseWriter, r *http.Request) {
		h.callback(w, r, "timer")
	})
	mux.HandleFunc("PUT /actors/{type}/{id}/method/remind/{name}", func(w http.ResponseWriter, r *http.Request) {
		h.callback(w, r, "reminder")
	})
	mux.HandleFunc("PUT /actors/{type}/{id}/method/{method}", h.method)
	mux.HandleFunc("DELETE /actors/{type}/{id}", func(w http.ResponseWriter, r *http.Request) {
		if h.down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		h.rec.begin(&actEvent{host: h.name, id: r.PathValue("id"), kind: "deactivate"})
		w.WriteHeader(http.StatusOK)
	})
	return mux
}

func (h *actHost) callback(w http.ResponseWriter, r *http.Request, kind string) {
	if h.down.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	e := &actEvent{host: h.name, id: r.PathValue("id"), kind: kind, name: r.PathValue("name")}
	h.rec.begin(e)
	defer h.rec.finish(e)
	_, _ = io.Copy(io.Discard, r.Body)
	w.WriteHeader(http.StatusOK)
}

func (h *actHost) method(w http.ResponseWriter, r *http.Request) {
	if h.down.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var body actMethodBody
	_ = json.NewDecoder(r.Body).Decode(&body)
	id, method := r.PathValue("id"), r.PathValue("method")
	e := &actEvent{host: h.name, id: id, kind: "call", name: method, seq: body.Seq}
	h.rec.begin(e)
	defer h.rec.finish(e)
	time.Sleep(time.Duration(body.SleepMs) * time.Millisecond)
	reply := actReply{Host: h.name, Seq: body.Seq}
	var err error
	switch method {
	case "work":
	case "incr":
		reply.N, err = h.incr(r.Context(), id)
	case "starttimer":
		err = h.sidecarDo(r.Context(), http.MethodPost, "/timers/tick", id, `{"dueTime":"0s","period":"300ms"}`, nil)
	default:
		err = fmt.Errorf("unknown method %q", method)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(reply)
}

// incr reads the actor's "n", adds one and writes it back in an actor
// state transaction: only correct if calls of one actor never overlap,
// anywhere in the cluster.
func (h *actHost) incr(ctx context.Context, id string) (int, error) {
	var n int
	if err := h.sidecarDo(ctx, http.MethodGet, "/state/n", id, "", &n); err != nil {
		return 0, err
	}
	n++
	tx := fmt.Sprintf(`[{"operation":"upsert","request":{"key":"n","value":%d}}]`, n)
	if err := h.sidecarDo(ctx, http.MethodPost, "/state", id, tx, nil); err != nil {
		return 0, err
	}
	return n, nil
}

// sidecarDo calls the actor API of the host's own sidecar for actor id;
// out, when set, receives a 200 answer's JSON (a 204 leaves it alone).
func (h *actHost) sidecarDo(ctx context.Context, method, suffix, id, body string, out any) error {
	car := h.car.Load()
	if car == nil {
		return fmt.Errorf("host %s has no sidecar yet", h.name)
	}
	u := car.url("/v1.0/actors/" + actType + "/" + url.PathEscape(id) + suffix)
	r, err := blkDo(ctx, method, u, body)
	if err != nil {
		return err
	}
	switch {
	case r.status == http.StatusOK && out != nil:
		return json.Unmarshal(r.body, out)
	case r.status == http.StatusOK || r.status == http.StatusNoContent:
		return nil
	}
	return fmt.Errorf("%s %s: status %d: %s", method, u, r.status, r.body)
}

// actCluster is one test's set of actor hosts: apps, their sidecars (all
// with one app id, as replicas of one app) sharing one SQLite state file,
// and the placement addresses they use.
type actCluster struct {
	t         *testing.T
	rec       *actRecorder
	appID     string
	resources string
	placement string // --placement-host-address
	idle      string
	hosts     []*actHost
	cars      []*sidecar
	seq       atomic.Int64
}

func newActCluster(t *testing.T, placementAddrs ...string) *actCluster {
	t.Helper()
	db := filepath.Join(t.TempDir(), "actors.db")
	store := blkComponent("actorstore", "state.sqlite", map[string]string{
		"connectionString": "file:" + db, "actorStateStore": "true", "busyTimeout": "5s",
	})
	return &actCluster{
		t: t, rec: newActRecorder(), appID: blkUnique("act"), resources: blkResources(t, store),
		placement: strings.Join(placementAddrs, ","), idle: "2s",
	}
}

// addHost starts an app and its sidecar, waits until the sidecar is
// healthy and connected to placement, and returns the host's index.
func (c *actCluster) addHost() int {
	t := c.t
	t.Helper()
	h := &actHost{name: "h" + strconv.Itoa(len(c.hosts)), rec: c.rec, idle: c.idle}
	h.srv = httptest.NewServer(h.handler())
	t.Cleanup(h.srv.Close)
	appPort := h.srv.Listener.Addr().(*net.TCPAddr).Port
	car := blkLaunch(t, blkSidecar{appID: c.appID, resources: c.resources, appPort: appPort,
		args: []string{"--placement-host-address", c.placement}})
	h.car.Store(car)
	car.waitStatus(t, "/v1.0/healthz", 204, 20*time.Second)
	c.hosts = append(c.hosts, h)
	c.cars = append(c.cars, car)
	c.waitHostReady(len(c.cars)-1, 30*time.Second)
	return len(c.hosts) - 1
}

// waitHostReady polls the sidecar's metadata until its actor runtime says
// it is connected to placement.
func (c *actCluster) waitHostReady(i int, timeout time.Duration) {
	t := c.t
	t.Helper()
	var last string
	ok := blkWaitFor(timeout, func() bool {
		r, err := blkDo(context.Background(), http.MethodGet, c.cars[i].url("/v1.0/metadata"), "")
		if err != nil || r.status != http.StatusOK {
			return false
		}
		var md struct {
			ActorRuntime struct {
				RuntimeStatus string `json:"runtimeStatus"`
				HostReady     bool   `json:"hostReady"`
				Placement     string `json:"placement"`
			} `json:"actorRuntime"`
		}
		if json.Unmarshal(r.body, &md) != nil {
			return false
		}
		last = string(r.body)
		return md.ActorRuntime.HostReady && md.ActorRuntime.RuntimeStatus == "RUNNING"
	})
	if !ok {
		t.Fatalf("sidecar of %s not ready for actors within %s; metadata %s", c.hosts[i].name, timeout, last)
	}
}

// kill sends SIGKILL to host i's sidecar and takes its app down with it;
// it returns the time of death.
func (c *actCluster) kill(i int) time.Time {
	t := c.t
	t.Helper()
	c.hosts[i].down.Store(true)
	at := c.rec.cut(c.hosts[i].name)
	if err := c.cars[i].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	c.cars[i].exitCode(t, 10*time.Second)
	c.hosts[i].srv.CloseClientConnections()
	return at
}

// nextSeq returns a new call sequence number.
func (c *actCluster) nextSeq() string { return strconv.FormatInt(c.seq.Add(1), 10) }

// call invokes an actor method through host via's sidecar. It fails on a
// transport error or any status but 200, with the body in the error.
func (c *actCluster) call(ctx context.Context, via int, id, method string, sleep time.Duration) (actReply, error) {
	body, _ := json.Marshal(actMethodBody{Seq: c.nextSeq(), SleepMs: int(sleep / time.Millisecond)})
	u := c.cars[via].url("/v1.0/actors/" + actType + "/" + url.PathEscape(id) + "/method/" + method)
	r, err := blkDo(ctx, http.MethodPost, u, string(body))
	if err != nil {
		return actReply{}, err
	}
	if r.status != http.StatusOK {
		return actReply{}, fmt.Errorf("%s on %s via %s: status %d: %s", method, id, c.hosts[via].name, r.status, r.body)
	}
	var rep actReply
	if err := json.Unmarshal(r.body, &rep); err != nil {
		return actReply{}, fmt.Errorf("%s on %s: answer %q: %w", method, id, r.body, err)
	}
	return rep, nil
}

// mustCall is call for the test goroutine.
func (c *actCluster) mustCall(via int, id, method string) actReply {
	c.t.Helper()
	rep, err := c.call(context.Background(), via, id, method, 0)
	if err != nil {
		c.t.Fatal(err)
	}
	return rep
}

// waitAnswered polls calls of "work" on id through the sidecars in via
// (in turn) until one is answered by a host accepted by ok, and returns
// that host's name.
func (c *actCluster) waitAnswered(id string, via []int, timeout time.Duration, ok func(host string) bool) (string, error) {
	var host string
	var lastErr error
	n := 0
	found := blkWaitFor(timeout, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rep, err := c.call(ctx, via[n%len(via)], id, "work", 0)
		n++
		if err != nil {
			lastErr = err
			time.Sleep(100 * time.Millisecond)
			return false
		}
		host = rep.Host
		return ok(host)
	})
	if !found {
		return "", fmt.Errorf("actor %s not answered as wanted within %s (last host %q, last error %v)", id, timeout, host, lastErr)
	}
	return host, nil
}

// waitSpread polls until every host in want answers at least one of ids
// through sidecar via: then every one of them is in via's table.
func (c *actCluster) waitSpread(ids []string, via int, want []int, timeout time.Duration) map[string]string {
	t := c.t
	t.Helper()
	var owners map[string]string
	ok := blkWaitFor(timeout, func() bool {
		owners = map[string]string{}
		seen := map[string]bool{}
		for _, id := range ids {
			rep, err := c.call(context.Background(), via, id, "work", 0)
			if err != nil {
				return false
			}
			owners[id] = rep.Host
			seen[rep.Host] = true
		}
		for _, i := range want {
			if !seen[c.hosts[i].name] {
				time.Sleep(200 * time.Millisecond)
				return false
			}
		}
		return true
	})
	if !ok {
		t.Fatalf("the actors did not spread over the hosts %v within %s: owners %v", want, timeout, owners)
	}
	return owners
}

func (c *actCluster) hostIndex(name string) int {
	for i, h := range c.hosts {
		if h.name == name {
			return i
		}
	}
	return -1
}

// actIDs returns n actor ids with the prefix.
func actIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = prefix + "-" + strconv.Itoa(i)
	}
	return ids
}

// actPlacement is one `outrigger placement` process.
type actPlacement struct {
	*sidecar // healthz port in httpPort
	id       string
	addr     string // gRPC address sidecars use
	args     []string
}

// startPlacement launches a placement node with test-friendly timings
// (1s keepalives, 5s dissemination timeout) and waits for its healthz.
func startPlacement(t *testing.T, id string, port int, cluster string) *actPlacement {
	t.Helper()
	p := newPlacementNode(id, port, cluster)
	p.launch(t)
	return p
}

// newPlacementNode describes a placement node; launch starts it.
func newPlacementNode(id string, port int, cluster string) *actPlacement {
	p := &actPlacement{id: id, addr: "127.0.0.1:" + strconv.Itoa(port)}
	p.args = []string{"placement", "--id", id, "--port", strconv.Itoa(port), "--listen-address", "127.0.0.1",
		"--healthz-listen-address", "127.0.0.1", "--metrics-listen-address", "127.0.0.1",
		"--initial-cluster", cluster, "--keepalive-time", "1s", "--keepalive-timeout", "1s",
		"--disseminate-timeout", "5s"}
	return p
}

// launch starts (or restarts) the process with fresh healthz and metrics
// ports, and waits for its healthz.
func (p *actPlacement) launch(t *testing.T) {
	t.Helper()
	p.start(t)
	p.waitStatus(t, "/healthz", 200, 20*time.Second)
}

// start starts the process without waiting for it.
func (p *actPlacement) start(t *testing.T) {
	t.Helper()
	healthz, metrics := freePort(t), freePort(t)
	s := &sidecar{out: &testutil.SyncBuffer{}, httpPort: healthz, done: make(chan error, 1)}
	args := append(slices.Clone(p.args), "--healthz-port", strconv.Itoa(healthz), "--metrics-port", strconv.Itoa(metrics))
	s.cmd = exec.Command(binary, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			_ = s.cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			t.Logf("placement %s output:\n%s", p.id, s.out.String())
		}
	})
	p.sidecar = s
}

// leads reports whether the node's log says it is the leader now.
func (p *actPlacement) leads() bool {
	if p.cmd.ProcessState != nil {
		return false
	}
	out := p.out.String()
	got := strings.LastIndex(out, "Acquired placement leadership")
	return got >= 0 && got > strings.LastIndex(out, "Lost placement leadership")
}

// waitLeader polls until exactly one of the nodes leads, and returns it.
func waitLeader(t *testing.T, nodes []*actPlacement, timeout time.Duration) *actPlacement {
	t.Helper()
	var leader *actPlacement
	ok := blkWaitFor(timeout, func() bool {
		leader = nil
		for _, n := range nodes {
			if n.leads() {
				if leader != nil {
					return false
				}
				leader = n
			}
		}
		return leader != nil
	})
	if !ok {
		t.Fatalf("no single placement leader within %s", timeout)
	}
	return leader
}
