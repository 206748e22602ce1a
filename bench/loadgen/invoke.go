package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// pair is caller sidecar A (app a, no app of its own) and callee sidecar B
// (app b, in front of the echo app). A finds B through the static name
// resolver, so no mDNS or other machine state is involved.
type pair struct {
	a, b *sidecar
}

// startPair starts B first, since A's configuration names B's internal
// gRPC port. extra flags go to both.
func startPair(ctx context.Context, cfg config, appProtocol string, appPort int, profiling bool, extra ...string) (*pair, error) {
	b, err := launch(cfg.bin, sidecarOpts{appID: targetAppID, profiling: profiling,
		args: append([]string{"--app-port", strconv.Itoa(appPort), "--app-protocol", appProtocol}, extra...)})
	if err != nil {
		return nil, fmt.Errorf("sidecar b: %w", err)
	}
	if _, err := b.waitReady(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("sidecar b: %w", err), b.stop())
	}
	a, err := launch(cfg.bin, sidecarOpts{appID: "a", profiling: profiling,
		config: staticConfig(b.internalPort), args: extra})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("sidecar a: %w", err), b.stop())
	}
	if _, err := a.waitReady(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("sidecar a: %w", err), a.stop(), b.stop())
	}
	return &pair{a: a, b: b}, nil
}

func (p *pair) stop() error {
	return errors.Join(p.a.stop(), p.b.stop())
}

// App ids of the daprd pair: apart from the outrigger pair's, since daprd
// finds its peer through mDNS, where any sidecar on the machine may answer.
const (
	daprdCallerID = "bench-daprd-a"
	daprdTargetID = "bench-daprd-b"
)

// startDaprdPair starts two of Dapr's daprd, as startPair does outrigger;
// A finds B through mDNS (daprd's standalone default), so it returns once
// a call through A reaches the app.
func startDaprdPair(ctx context.Context, cfg config, appProtocol string, appPort int) (*pair, error) {
	b, err := launch(cfg.daprd, sidecarOpts{appID: daprdTargetID, daprd: true,
		args: []string{"--app-port", strconv.Itoa(appPort), "--app-protocol", appProtocol}})
	if err != nil {
		return nil, fmt.Errorf("daprd b: %w", err)
	}
	if _, err := b.waitReady(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("daprd b: %w", err), b.stop())
	}
	a, err := launch(cfg.daprd, sidecarOpts{appID: daprdCallerID, daprd: true})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("daprd a: %w", err), b.stop())
	}
	p := &pair{a: a, b: b}
	if _, err := a.waitReady(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("daprd a: %w", err), p.stop())
	}
	probe, err := daprdProbe(appProtocol, a)
	if err != nil {
		return nil, errors.Join(err, p.stop())
	}
	if err := waitRoute(ctx, probe); err != nil {
		return nil, errors.Join(fmt.Errorf("daprd a → daprd b: %w", err), p.stop())
	}
	return p, nil
}

// daprdProbe is an echo client through daprd A, in the app's protocol.
func daprdProbe(appProtocol string, a *sidecar) (echoClient, error) {
	if appProtocol == "grpc" {
		return newGRPCEcho(a.grpcPort, daprdTargetID)
	}
	return newHTTPEcho(a.httpPort, daprdTargetID), nil
}

// firstLines is s up to its n-th line.
func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return strings.Join(lines, " ")
}

// waitRoute calls c until a call succeeds, for readyTimeout at most.
func waitRoute(ctx context.Context, c echoClient) error {
	defer c.close()
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		err := c.call(ctx, 0)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no call got through in %v: %w", readyTimeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// staticConfig is A's Configuration: app b lives at B's internal gRPC port.
func staticConfig(port int) string {
	return `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: bench
spec:
  nameResolution:
    component: static
    configuration:
      apps:
        ` + targetAppID + `: ["127.0.0.1:` + strconv.Itoa(port) + `"]
`
}

// invoke case names, for -cases.
const (
	invokeHTTP     = "invoke/http"
	invokeGRPC     = "invoke/grpc"
	streamUpload   = "invoke/stream/upload"
	streamDownload = "invoke/stream/download"
)

// runInvoke runs the selected service invocation cases against one echo
// app shared by all of them.
func runInvoke(ctx context.Context, cfg config, rep *report, progress io.Writer) error {
	app, err := startEchoApp()
	if err != nil {
		return err
	}
	defer app.close()
	// Profiling only when asked: the invoke sidecars otherwise run as in
	// production.
	profiling := cfg.profileDir != "" && rep.Profiling
	if cfg.profileDir != "" && !profiling {
		rep.Notes = append(rep.Notes, "-invoke-cpuprofile: the binary has no --enable-profiling flag; no profiles taken")
	}
	if profiling {
		if err := os.MkdirAll(cfg.profileDir, 0o755); err != nil {
			return fmt.Errorf("-invoke-cpuprofile: %w", err)
		}
	}
	if cfg.daprd != "" {
		out, err := exec.CommandContext(ctx, cfg.daprd, "--version").Output()
		if err != nil {
			return fmt.Errorf("-daprd: %s --version: %w", cfg.daprd, err)
		}
		rep.Daprd = fmt.Sprintf("%s, version %q", cfg.daprd, strings.TrimSpace(string(out)))
	}
	for _, tr := range []string{"http", "grpc"} {
		name := "invoke/" + tr
		if !cfg.cases.MatchString(name) {
			continue
		}
		fmt.Fprintf(progress, "invoke: %s (%d rounds: open loop %d req/s for %v, closed loop %d workers for %v, per path)\n",
			name, cfg.rounds, cfg.rate, cfg.duration, cfg.concurrency, cfg.closedDuration)
		res, notes := runEcho(ctx, cfg, app, tr, profiling)
		rep.Invoke = append(rep.Invoke, res)
		rep.Notes = append(rep.Notes, notes...)
	}
	for _, name := range []string{streamUpload, streamDownload} {
		if !cfg.cases.MatchString(name) {
			continue
		}
		fmt.Fprintf(progress, "invoke: %s (%d MiB)\n", name, cfg.streamMiB)
		rep.Streams = append(rep.Streams, runStream(ctx, cfg, app, name))
	}
	return nil
}

// runEcho measures one transport's echo: direct and through A→B, open loop
// at a fixed rate and closed loop at full speed.
func runEcho(ctx context.Context, cfg config, app *echoApp, transport string, profiling bool) (invokeResult, []string) {
	res := invokeResult{Name: "invoke/" + transport, Transport: transport, PayloadBytes: echoBytes}
	notes, err := echoCase(ctx, cfg, app, transport, profiling, &res)
	if err != nil {
		res.addError(err)
	}
	return res, notes
}

func echoCase(ctx context.Context, cfg config, app *echoApp, transport string, profiling bool, res *invokeResult) (notes []string, err error) {
	proto, port := "http", app.httpPort
	if transport == "grpc" {
		proto, port = "grpc", app.grpcPort
	}
	p, err := startPair(ctx, cfg, proto, port, profiling)
	if err != nil {
		return nil, err
	}
	defer func() {
		if serr := p.stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	// daprd is a guest here: if it cannot carry the case, the case is
	// measured without it and the note says why.
	var dp *pair
	if cfg.daprd != "" {
		var derr error
		if dp, derr = startDaprdPair(ctx, cfg, proto, port); derr != nil {
			notes = append(notes, fmt.Sprintf("invoke/%s: the %s path was not measured: %s", transport, pathDaprd, firstLines(derr.Error(), 4)))
		}
	}
	if dp != nil {
		defer func() {
			if serr := dp.stop(); serr != nil && err == nil {
				err = serr
			}
		}()
	}
	var ref *refPair
	if transport == "http" {
		if ref, err = startRefPair(ctx, app.httpPort); err != nil {
			return notes, err
		}
		defer func() {
			if serr := ref.stop(); serr != nil && err == nil {
				err = serr
			}
		}()
	}
	paths, err := echoPaths(transport, app, p, ref, dp)
	if err != nil {
		return notes, err
	}
	defer func() {
		for _, c := range paths {
			c.client.close()
		}
	}()
	for _, c := range paths {
		if ph := drive(ctx, cfg.warmup, cfg.concurrency, c.client.call, randomKey); res.addErrors("warm-up "+c.name, &ph.errs) {
			return notes, nil
		}
	}
	more, err := echoPhases(ctx, cfg, p, paths, profiling, res)
	return append(notes, more...), err
}

// The ways an echo travels: straight to the app, through the two reference
// proxies (HTTP only), through sidecars A and B, and, when asked for,
// through two of Dapr's daprd.
const (
	pathDirect   = "direct"
	pathProxies  = "proxies"
	pathSidecars = "A→B"
	pathDaprd    = "daprd A→B"
)

// echoPath is one way to the app and the two processes on it, whose CPU
// and memory are charged to the A and B columns (none for direct).
type echoPath struct {
	name   string
	client echoClient
	a, b   int // pids; 0 for the direct path
}

// echoPaths lists the paths, direct first; ref and dp may be nil.
func echoPaths(transport string, app *echoApp, p *pair, ref *refPair, dp *pair) ([]echoPath, error) {
	if transport == "http" {
		paths := []echoPath{{name: pathDirect, client: newHTTPEcho(app.httpPort, "")}}
		if ref != nil {
			paths = append(paths, echoPath{pathProxies, newHTTPEcho(ref.a.port, ""), ref.a.pid(), ref.b.pid()})
		}
		paths = append(paths, echoPath{pathSidecars, newHTTPEcho(p.a.httpPort, targetAppID), p.a.pid(), p.b.pid()})
		if dp != nil {
			paths = append(paths, echoPath{pathDaprd, newHTTPEcho(dp.a.httpPort, daprdTargetID), dp.a.pid(), dp.b.pid()})
		}
		return paths, nil
	}
	var paths []echoPath
	add := func(name string, port int, appID string, a, b int) error {
		c, err := newGRPCEcho(port, appID)
		if err != nil {
			for _, p := range paths {
				p.client.close()
			}
			return err
		}
		paths = append(paths, echoPath{name, c, a, b})
		return nil
	}
	if err := add(pathDirect, app.grpcPort, "", 0, 0); err != nil {
		return nil, err
	}
	if err := add(pathSidecars, p.a.grpcPort, targetAppID, p.a.pid(), p.b.pid()); err != nil {
		return nil, err
	}
	if dp != nil {
		if err := add(pathDaprd, dp.a.grpcPort, daprdTargetID, dp.a.pid(), dp.b.pid()); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

// echoPhases runs the open-loop then the closed-loop load, each as
// interleaved rounds of every path, so a noisy neighbour hurts all paths
// alike instead of one.
func echoPhases(ctx context.Context, cfg config, p *pair, paths []echoPath, profiling bool, res *invokeResult) ([]string, error) {
	var profiles *cpuProfiles
	if profiling {
		// The paths run in turn, so the profile spans the whole open loop.
		profiles = startCPUProfiles(ctx, cfg.profileDir, res.Transport, p, time.Duration(len(paths))*cfg.duration)
	}
	openRound := cfg.duration / time.Duration(cfg.rounds)
	open := interleave(ctx, cfg.rounds, paths, func(op opFunc) (*phase, []time.Duration) {
		pc := pace(ctx, cfg.rate, openRound, op)
		return pc.phase, pc.lags
	})
	var notes []string
	if profiles != nil {
		notes = profiles.wait()
	}
	if err := res.addLoad(fmt.Sprintf("open %d req/s", cfg.rate), cfg.rate, paceWorkers, open); err != nil {
		return notes, err
	}
	closedRound := cfg.closedDuration / time.Duration(cfg.rounds)
	closed := interleave(ctx, cfg.rounds, paths, func(op opFunc) (*phase, []time.Duration) {
		return driveFor(ctx, closedRound, cfg.concurrency, op), nil
	})
	return notes, res.addLoad(fmt.Sprintf("closed %d workers", cfg.concurrency), 0, cfg.concurrency, closed)
}

// pathTotals adds up one path's rounds.
type pathTotals struct {
	path             string
	lat, lags        []time.Duration
	elapsed          time.Duration
	cpuA, cpuB, self time.Duration
	rssA, rssB       int64 // highest sampled VmRSS
	errs             errorLog
	err              error // a failed /proc reading: the figures are void
}

// interleave runs rounds × every path and brackets every run with CPU
// readings of the path's two processes and of loadgen, and RSS sampling.
func interleave(ctx context.Context, rounds int, paths []echoPath, run func(opFunc) (*phase, []time.Duration)) []*pathTotals {
	totals := make([]*pathTotals, len(paths))
	for i, p := range paths {
		totals[i] = &pathTotals{path: p.name}
	}
	for range rounds {
		for i, p := range paths {
			if ctx.Err() != nil {
				return totals
			}
			if err := totals[i].measure(p, run); err != nil {
				totals[i].err = err
				return totals
			}
		}
	}
	return totals
}

func (t *pathTotals) measure(p echoPath, run func(opFunc) (*phase, []time.Duration)) error {
	before, err := readCPU(p)
	if err != nil {
		return err
	}
	rss := sampleRSS(100*time.Millisecond, p.a, p.b)
	ph, lags := run(p.client.call)
	peaks := rss.finish()
	after, err := readCPU(p)
	if err != nil {
		return err
	}
	t.lat = append(t.lat, ph.latencies...)
	t.lags = append(t.lags, lags...)
	t.elapsed += ph.elapsed
	t.cpuA += after[0] - before[0]
	t.cpuB += after[1] - before[1]
	t.self += after[2] - before[2]
	t.rssA, t.rssB = max(t.rssA, peaks[0]), max(t.rssB, peaks[1])
	t.errs.merge(&ph.errs)
	return nil
}

// readCPU returns the CPU time used so far by the path's two processes
// (zero for the direct path) and by loadgen (which includes the echo app).
func readCPU(p echoPath) ([3]time.Duration, error) {
	var out [3]time.Duration
	var err error
	if p.a != 0 {
		if out[0], err = procCPU(p.a); err != nil {
			return out, fmt.Errorf("%s, A: %w", p.name, err)
		}
		if out[1], err = procCPU(p.b); err != nil {
			return out, fmt.Errorf("%s, B: %w", p.name, err)
		}
	}
	out[2], err = selfCPU()
	return out, err
}

// merge adds another log's count and samples to e.
func (e *errorLog) merge(o *errorLog) {
	o.mu.Lock()
	count, samples := o.count, append([]string(nil), o.samples...)
	o.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.count += count
	for _, s := range samples {
		if len(e.samples) < maxErrorSamples {
			e.samples = append(e.samples, s)
		}
	}
}
