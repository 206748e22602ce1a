package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/outrigger/outrigger/internal/sleep"
)

const (
	// actorIDs is the pool of actor ids the closed loops spread over, so
	// calls rarely wait on another call's turn on the same actor.
	actorIDs = 5000
	// actorActivations is how many fresh ids the activation figure takes.
	actorActivations = 300
	// actorsReady bounds the wait for placement to place the actor type.
	actorsReady = 30 * time.Second
	// reminderSettle lets every reminder fire (and activate) once before
	// firings are counted.
	reminderSettle = 2 * time.Second
)

// actorWorkers are the closed-loop concurrencies of the call loads.
var actorWorkers = []int{8, 16, 64}

// actorsEnv is the suite's processes: placement, the actor app, sidecar A
// hosting it and sidecar B with no app, so every call through B is remote.
type actorsEnv struct {
	cfg       config
	profiling bool // A runs with --enable-profiling for -actors-cpuprofile
	placement *placementProc
	app       *actorApp
	a, b      *sidecar
	client    *http.Client
	run       string
}

// Actor case names, for -cases.
const (
	actorsCaseActivation = "actors/activation"
	actorsCaseReminders  = "actors/reminders"
	actorsCaseRate       = "actors/local/rate"
)

// actorsCallCase names a call load: actors/<local|remote>/c<workers>.
func actorsCallCase(path string, workers int) string {
	return fmt.Sprintf("actors/%s/c%d", path, workers)
}

// runActors measures actor calls (local, remote), activation and
// reminder firings, each against the same placement and host; -cases
// picks among them.
func runActors(ctx context.Context, cfg config, rep *report, progress io.Writer) {
	res := &actorsReport{}
	rep.Actors = res
	e := &actorsEnv{cfg: cfg, profiling: cfg.actorsProfileDir != "" && rep.Profiling}
	if cfg.actorsProfileDir != "" && !e.profiling {
		rep.Notes = append(rep.Notes, "-actors-cpuprofile: the binary has no --enable-profiling flag; no profiles taken")
	}
	if e.profiling {
		if err := os.MkdirAll(cfg.actorsProfileDir, 0o755); err != nil {
			res.addError(fmt.Errorf("-actors-cpuprofile: %w", err))
			return
		}
	}
	defer func() { res.addError(e.close()) }()
	fmt.Fprintf(progress, "actors: starting placement, host A with the app, caller B\n")
	if err := e.start(ctx); err != nil {
		res.addError(err)
		return
	}
	if cfg.cases.MatchString(actorsCaseActivation) {
		fmt.Fprintf(progress, "actors: activation (%d fresh ids, one call at a time)\n", actorActivations)
		res.Activation = e.measureActivation(ctx, res)
	}
	e.runCalls(ctx, res, progress)
	for _, c := range res.Calls {
		rep.Notes = append(rep.Notes, c.ProfileNotes...)
	}
	if cfg.cases.MatchString(actorsCaseReminders) {
		res.Reminders = actorsReminders{Reminders: cfg.actorReminders, PeriodMS: ms(cfg.actorReminderPeriod)}
		fmt.Fprintf(progress, "actors: %d reminders every %v, counted for %v\n", cfg.actorReminders, cfg.actorReminderPeriod, cfg.actorsLoad)
		rep.Notes = append(rep.Notes, e.measureReminders(ctx, &res.Reminders)...)
	}
}

// runCalls warms the id pool and runs the selected call loads.
func (e *actorsEnv) runCalls(ctx context.Context, res *actorsReport, progress io.Writer) {
	type load struct {
		path    string
		via     *sidecar
		workers int
	}
	var loads []load
	for _, path := range []struct {
		name string
		via  *sidecar
	}{{"local", e.a}, {"remote", e.b}} {
		for _, w := range actorWorkers {
			if e.cfg.cases.MatchString(actorsCallCase(path.name, w)) {
				loads = append(loads, load{path.name, path.via, w})
			}
		}
	}
	rate := e.cfg.cases.MatchString(actorsCaseRate)
	if len(loads) == 0 && !rate {
		return
	}
	fmt.Fprintf(progress, "actors: warming %d ids through A\n", actorIDs)
	if p := drive(ctx, actorIDs, e.cfg.concurrency, e.call(e.a, "warm"), eachIndex); res.addErrorLog("warm-up", &p.errs) {
		return
	}
	for _, l := range loads {
		fmt.Fprintf(progress, "actors: %s calls, %d workers for %v\n", l.path, l.workers, e.cfg.actorsLoad)
		res.Calls = append(res.Calls, e.measureCalls(ctx, l.path, l.via, l.workers))
	}
	if rate {
		fmt.Fprintf(progress, "actors: local calls, open loop at %d/s for %v\n", e.cfg.actorsRate, e.cfg.actorsLoad)
		res.Calls = append(res.Calls, e.measureRate(ctx, e.a, e.cfg.actorsRate))
	}
}

func (e *actorsEnv) start(ctx context.Context) error {
	var err error
	if e.run, err = runID(); err != nil {
		return err
	}
	if e.placement, err = startPlacement(ctx, e.cfg.bin); err != nil {
		return err
	}
	if e.app, err = startActorApp(); err != nil {
		return err
	}
	files := map[string]string{"actorstore.yaml": actorStoreYAML}
	placementArgs := []string{"--placement-host-address", e.placement.addr()}
	e.a, err = startReady(ctx, e.cfg.bin, sidecarOpts{appID: "bench-actors-a", files: files, profiling: e.profiling,
		args: append([]string{"--app-port", strconv.Itoa(e.app.port), "--app-protocol", "http"}, placementArgs...)})
	if err != nil {
		return err
	}
	if e.b, err = startReady(ctx, e.cfg.bin, sidecarOpts{appID: "bench-actors-b", files: files, args: placementArgs}); err != nil {
		return err
	}
	e.client = newKeepAliveClient()
	// Both sidecars must have the placement table before anything counts.
	for _, s := range []*sidecar{e.a, e.b} {
		if err := e.waitCallable(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// actorStoreYAML is the in-memory state store marked as the actor store,
// which holds the reminders.
const actorStoreYAML = "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: actorstore\nspec:\n  type: state.in-memory\n  version: v1\n  metadata:\n" +
	"  - name: actorStateStore\n    value: \"true\"\n"

// waitCallable retries one call through s until placement has placed the
// actor type.
func (e *actorsEnv) waitCallable(ctx context.Context, s *sidecar) error {
	ctx, cancel := context.WithTimeout(ctx, actorsReady)
	defer cancel()
	op := e.call(s, "ready")
	var last error
	for {
		if last = op(ctx, 0); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("actor %s not callable through sidecar %d after %v: %w", benchActorType, s.httpPort, actorsReady, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// call returns an op that calls method ping on actor <prefix>-<run>-<k>
// through sidecar s; k < 0 picks a random id from the pool.
func (e *actorsEnv) call(s *sidecar, prefix string) opFunc {
	urls := make([]string, actorIDs)
	for i := range urls {
		urls[i] = fmt.Sprintf("http://127.0.0.1:%d/v1.0/actors/%s/%s-%s-%d/method/ping", s.httpPort, benchActorType, prefix, e.run, i)
	}
	return func(ctx context.Context, k int) error {
		if k < 0 || k >= len(urls) {
			k = rand.IntN(len(urls))
		}
		return e.post(ctx, urls[k], nil, http.StatusOK)
	}
}

// post sends one request and checks its status, draining the body so the
// connection is reused.
func (e *actorsEnv) post(ctx context.Context, url string, body []byte, want int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("POST %s: %s %s", url, resp.Status, bytes.TrimSpace(b))
	}
	return nil
}

// measureActivation calls fresh ids one at a time: the first call
// activates the actor, the second finds it warm.
func (e *actorsEnv) measureActivation(ctx context.Context, res *actorsReport) actorsActivation {
	op := e.call(e.a, "activate")
	var cold, warm []time.Duration
	for i := range actorActivations {
		for _, into := range []*[]time.Duration{&cold, &warm} {
			t0 := time.Now()
			err := op(ctx, i)
			*into = append(*into, time.Since(t0))
			if err != nil {
				res.addError(fmt.Errorf("activation: %w", err))
				return actorsActivation{}
			}
		}
	}
	cold, warm = sortedConcat([][]time.Duration{cold}), sortedConcat([][]time.Duration{warm})
	return actorsActivation{
		IDs:       actorActivations,
		ColdP50US: us(percentile(cold, 0.5)), ColdP99US: us(percentile(cold, 0.99)),
		WarmP50US: us(percentile(warm, 0.5)), WarmP99US: us(percentile(warm, 0.99)),
	}
}

// measureCalls runs a closed loop of calls through via on the warm ids.
func (e *actorsEnv) measureCalls(ctx context.Context, path string, via *sidecar, workers int) actorsCalls {
	r := actorsCalls{Name: actorsCallCase(path, workers), Path: path, Workers: workers}
	e.measureLoad(ctx, &r, via, func(op opFunc) *phase { return driveFor(ctx, e.cfg.actorsLoad, workers, op) })
	return r
}

// measureRate sends calls through via on the warm ids at a fixed rate,
// open loop, so the latencies are those of a sidecar serving that rate
// rather than of a queue kept full by a closed loop.
func (e *actorsEnv) measureRate(ctx context.Context, via *sidecar, rate int) actorsCalls {
	r := actorsCalls{Name: actorsCaseRate, Path: "local", OfferedPerSec: rate}
	e.measureLoad(ctx, &r, via, func(op opFunc) *phase {
		p := pace(ctx, rate, e.cfg.actorsLoad, op)
		r.SendLagP99US = us(percentile(p.lags, 0.99))
		return p.phase
	})
	return r
}

// measureLoad runs one call load through via on random warm ids,
// bracketed by both sidecars' CPU readings (and A's profile with
// -actors-cpuprofile), and fills r.
func (e *actorsEnv) measureLoad(ctx context.Context, r *actorsCalls, via *sidecar, load func(opFunc) *phase) {
	op := e.call(via, "warm")
	random := func(ctx context.Context, _ int) error { return op(ctx, -1) }
	cpu0, err := e.cpu()
	if err != nil {
		r.addError(err)
		return
	}
	prof := e.profileA(ctx, r.Name)
	p := load(random)
	r.ProfileNotes = prof.wait()
	cpu1, err := e.cpu()
	if err != nil {
		r.addError(err)
		return
	}
	r.addErrorLog(&p.errs)
	r.fill(p, cpu1.sub(cpu0))
}

// measureReminders registers the reminders through A, lets them all fire
// once, then counts firings at the app over the load time. With
// -actors-cpuprofile it profiles A over that window and returns where the
// profile went.
func (e *actorsEnv) measureReminders(ctx context.Context, r *actorsReminders) []string {
	body := fmt.Appendf(nil, `{"dueTime":"0s","period":%q}`, e.cfg.actorReminderPeriod.String())
	register := func(ctx context.Context, k int) error {
		url := fmt.Sprintf("http://127.0.0.1:%d/v1.0/actors/%s/rem-%s-%d/reminders/tick", e.a.httpPort, benchActorType, e.run, k)
		return e.post(ctx, url, body, http.StatusNoContent)
	}
	t0 := time.Now()
	p := drive(ctx, e.cfg.actorReminders, e.cfg.concurrency, register, eachIndex)
	r.RegisterSeconds = time.Since(t0).Seconds()
	if r.addErrorLog(&p.errs) {
		return nil
	}
	if err := sleep.Wait(ctx, reminderSettle); err != nil {
		r.addError(err)
		return nil
	}
	prof := e.profileA(ctx, actorsCaseReminders)
	e.countReminders(ctx, r)
	return prof.wait()
}

// profileA takes host A's CPU profile over the next -actors-load when
// -actors-cpuprofile is set; the file is named after the case.
func (e *actorsEnv) profileA(ctx context.Context, name string) *cpuProfiles {
	if !e.profiling {
		return &cpuProfiles{}
	}
	path := filepath.Join(e.cfg.actorsProfileDir, strings.ReplaceAll(name, "/", "-")+"-a.pprof")
	return startProfiles(ctx, []profileTarget{{path, e.a}}, e.cfg.actorsLoad)
}

// countReminders reads the app's reminder counter, A's and loadgen's CPU
// and the time A's threads waited for a CPU around one window of
// -actors-load.
func (e *actorsEnv) countReminders(ctx context.Context, r *actorsReminders) {
	cpu0, err := e.cpu()
	if err != nil {
		r.addError(err)
		return
	}
	wait0, waitErr := runQueueWait(e.a.pid())
	n0, start := e.app.reminders.Load(), time.Now()
	if err := sleep.Wait(ctx, e.cfg.actorsLoad); err != nil {
		r.addError(err)
		return
	}
	n1, elapsed := e.app.reminders.Load(), time.Since(start)
	cpu1, err := e.cpu()
	if err != nil {
		r.addError(err)
		return
	}
	wait1, err := runQueueWait(e.a.pid())
	if waitErr == nil && err == nil {
		r.HostWaitCores = (wait1 - wait0).Seconds() / elapsed.Seconds()
	}
	used := cpu1.sub(cpu0)
	r.WindowSeconds = elapsed.Seconds()
	r.Firings = n1 - n0
	r.PerSec = float64(r.Firings) / r.WindowSeconds
	r.OfferedPerSec = float64(r.Reminders) / e.cfg.actorReminderPeriod.Seconds()
	r.HostCPUMSPer1k = perOpUS(used.a, int(r.Firings))
	r.HostCores = used.a.Seconds() / r.WindowSeconds
	r.LoadgenCPUMSPer1k = perOpUS(used.self, int(r.Firings))
}

// runQueueWait is how long the threads of pid have waited for a CPU while
// runnable (the second field of /proc/<pid>/task/*/schedstat, in ns). On a
// shared machine it tells a sidecar short of CPU from one short of work.
func runQueueWait(pid int) (time.Duration, error) {
	files, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(files) == 0 {
		return 0, fmt.Errorf("no schedstat for pid %d: %v", pid, err)
	}
	var total time.Duration
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread exited meanwhile
		}
		fields := strings.Fields(string(b))
		if len(fields) < 2 {
			return 0, fmt.Errorf("malformed %s: %q", f, b)
		}
		ns, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse %s: %w", f, err)
		}
		total += time.Duration(ns)
	}
	return total, nil
}

// eachIndex gives operation i key index i: every actor id of a phase is
// distinct. (everyKey wraps at the state suite's 1,000-key pool, which
// left the reminder load with 1,000 reminders, each registered five
// times, and warmed only 1,000 of the 5,000 call ids.)
func eachIndex(i int, _ *rand.Rand) int { return i }

// sidecarsCPU is both sidecars' CPU time and loadgen's own.
type sidecarsCPU struct{ a, b, self time.Duration }

func (c sidecarsCPU) sub(o sidecarsCPU) sidecarsCPU {
	return sidecarsCPU{a: c.a - o.a, b: c.b - o.b, self: c.self - o.self}
}

func (e *actorsEnv) cpu() (sidecarsCPU, error) {
	a, err := procCPU(e.a.pid())
	if err != nil {
		return sidecarsCPU{}, err
	}
	b, err := procCPU(e.b.pid())
	if err != nil {
		return sidecarsCPU{}, err
	}
	self, err := selfCPU()
	return sidecarsCPU{a: a, b: b, self: self}, err
}

// close stops the sidecars (caller first), the app and placement.
func (e *actorsEnv) close() error {
	var errs []error
	if e.client != nil {
		e.client.CloseIdleConnections()
	}
	for _, s := range []*sidecar{e.b, e.a} {
		if s != nil {
			errs = append(errs, s.stop())
		}
	}
	if e.app != nil {
		e.app.close()
	}
	if e.placement != nil {
		errs = append(errs, e.placement.stop())
	}
	return errors.Join(errs...)
}

// placementProc is a running `outrigger placement`.
type placementProc struct {
	cmd     *exec.Cmd
	port    int
	exited  chan struct{}
	waitErr error
	out     *tailBuffer
}

func (p *placementProc) addr() string { return "127.0.0.1:" + strconv.Itoa(p.port) }

// startPlacement runs the placement service on free ports and waits until
// its /healthz answers 200.
func startPlacement(ctx context.Context, bin string) (*placementProc, error) {
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	p := &placementProc{port: ports[0], exited: make(chan struct{}), out: &tailBuffer{max: 8 << 10}}
	p.cmd = exec.Command(bin, "placement",
		"--port", strconv.Itoa(ports[0]), "--listen-address", "127.0.0.1",
		"--healthz-port", strconv.Itoa(ports[1]), "--healthz-listen-address", "127.0.0.1",
		"--metrics-port", strconv.Itoa(ports[2]), "--log-level", "warn",
		// Its own Raft port too: the default 8201 may be taken by another
		// placement on the machine.
		"--initial-cluster", "dapr-placement-0=127.0.0.1:"+strconv.Itoa(ports[3]))
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start placement: %w", err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	if err := p.waitHealthy(ctx, ports[1]); err != nil {
		return nil, errors.Join(err, p.stop())
	}
	return p, nil
}

func (p *placementProc) waitHealthy(ctx context.Context, port int) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", port)
	for {
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("placement exited before ready (%v): %s", p.waitErr, p.out.String())
		case <-ctx.Done():
			return fmt.Errorf("placement not ready: %w; output: %s", ctx.Err(), p.out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM and waits, killing placement if it hangs.
func (p *placementProc) stop() error {
	select {
	case <-p.exited:
		return fmt.Errorf("placement had already exited (%v): %s", p.waitErr, p.out.String())
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("signal placement: %w", err)
	}
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("placement did not stop within %v of SIGTERM; killed", stopTimeout)
	}
	if p.waitErr != nil {
		return fmt.Errorf("placement exit after SIGTERM: %v; output: %s", p.waitErr, p.out.String())
	}
	return nil
}
