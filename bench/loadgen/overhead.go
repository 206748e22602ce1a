package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"
)

// overheadVariant is one set of the optional features whose hot-path cost
// the overhead suite measures against a sidecar with all of them off.
type overheadVariant struct {
	name       string
	metrics    bool   // --enable-metrics (default buckets)
	sampling   string // spec.tracing.samplingRate with an OTLP/HTTP exporter; "" for no tracing config
	resiliency bool   // retry + timeout policies on the load's target
}

const overheadBaseline = "baseline"

var overheadVariants = []overheadVariant{
	{name: overheadBaseline},
	{name: "metrics", metrics: true},
	{name: "tracing-0", sampling: "0"},
	{name: "tracing-1", sampling: "1"},
	{name: "resiliency", resiliency: true},
	{name: "all-on", metrics: true, sampling: "0", resiliency: true},
}

// overheadLoad is one closed-loop request mix.
type overheadLoad struct {
	name string // case name, overhead/<load>
	app  bool   // needs the echo app behind the sidecar
}

var overheadLoads = []overheadLoad{
	{name: "overhead/state-get"},
	{name: "overhead/invoke-self", app: true},
}

// overheadAppID is the sidecar's app id; the invoke load calls it by it.
const overheadAppID = "bench"

// roundOrder returns the variant indexes of round r: forward in even rounds,
// backward in odd ones, so a drift of the machine over the run (thermal,
// other tenants) weighs on every variant alike instead of on the last ones.
func roundOrder(n, r int) []int {
	out := make([]int, n)
	for i := range n {
		if r%2 == 0 {
			out[i] = i
		} else {
			out[i] = n - 1 - i
		}
	}
	return out
}

// runOverhead measures each selected load under every variant, a fresh
// sidecar per run, in interleaved rounds; the figures are the medians.
func runOverhead(ctx context.Context, cfg config, rep *report, progress io.Writer) {
	sink, err := startTraceSink()
	if err != nil {
		rep.Overhead = append(rep.Overhead, overheadResult{Load: "overhead", Errors: 1, ErrorSamples: []string{err.Error()}})
		return
	}
	defer sink.close()
	prof, err := newOverheadProfiler(cfg, rep)
	if err != nil {
		rep.Overhead = append(rep.Overhead, overheadResult{Load: "overhead", Errors: 1, ErrorSamples: []string{err.Error()}})
		return
	}
	defer func() { rep.Notes = append(rep.Notes, prof.failures()...) }()
	var app *echoApp
	for _, l := range overheadLoads {
		if !cfg.cases.MatchString(l.name) {
			continue
		}
		if l.app && app == nil {
			if app, err = startEchoApp(); err != nil {
				rep.Overhead = append(rep.Overhead, overheadResult{Load: l.name, Errors: 1, ErrorSamples: []string{err.Error()}})
				continue
			}
			defer app.close()
		}
		rep.Overhead = append(rep.Overhead, measureOverheadLoad(ctx, cfg, l, app, sink, prof, progress)...)
	}
}

// measureOverheadLoad runs every variant of one load cfg.overheadRounds
// times and returns one result per variant.
func measureOverheadLoad(ctx context.Context, cfg config, l overheadLoad, app *echoApp, sink *traceSink, prof *overheadProfiler, progress io.Writer) []overheadResult {
	res := make([]overheadResult, len(overheadVariants))
	for i, v := range overheadVariants {
		res[i] = overheadResult{Load: l.name, Variant: v.name}
	}
	for r := range cfg.overheadRounds {
		fmt.Fprintf(progress, "overhead: %s round %d/%d (%d variants, %v each)\n", l.name, r+1, cfg.overheadRounds, len(overheadVariants), cfg.overheadLoad)
		for _, i := range roundOrder(len(overheadVariants), r) {
			if ctx.Err() != nil {
				return res
			}
			exports0 := sink.exports.Load()
			run, err := overheadOnce(ctx, cfg, overheadRunSpec{load: l, variant: overheadVariants[i], round: r}, app, sink.port, prof)
			res[i].addError(err)
			if err == nil {
				res[i].Runs = append(res[i].Runs, run)
			}
			res[i].TraceExports += sink.exports.Load() - exports0
		}
	}
	summarizeOverhead(res)
	return res
}

// overheadRunSpec names one run: a load under a variant in a round.
type overheadRunSpec struct {
	load    overheadLoad
	variant overheadVariant
	round   int
}

// overheadOnce starts a sidecar with the variant, warms it up and measures
// one closed loop bracketed by readings of the sidecar's CPU time (and, with
// prof, profiled).
func overheadOnce(ctx context.Context, cfg config, spec overheadRunSpec, app *echoApp, sinkPort int, prof *overheadProfiler) (run overheadRun, err error) {
	l := spec.load
	o := overheadSidecarOpts(spec.variant, sinkPort)
	o.profiling = prof != nil
	if l.app {
		o.args = append(o.args, "--app-port", strconv.Itoa(app.httpPort))
	}
	s, err := startReady(ctx, cfg.bin, o)
	if err != nil {
		return run, err
	}
	defer func() { err = errors.Join(err, s.stop()) }()
	op, closeOp, err := overheadOp(ctx, cfg, l, s)
	if err != nil {
		return run, err
	}
	defer closeOp()
	if p := drive(ctx, cfg.warmup, cfg.concurrency, op, randomKey); p.errs.count > 0 {
		return run, fmt.Errorf("warm-up: %d errors, first: %s", p.errs.count, p.errs.samples[0])
	}
	waitProfiles := prof.start(ctx, s, l, spec.variant, spec.round)
	defer waitProfiles() // before the sidecar stops
	cpu0, err := procCPU(s.pid())
	if err != nil {
		return run, err
	}
	p := driveFor(ctx, cfg.overheadLoad, cfg.concurrency, op)
	cpu1, err := procCPU(s.pid())
	if err != nil {
		return run, err
	}
	if p.errs.count > 0 {
		return run, fmt.Errorf("measured: %d errors, first: %s", p.errs.count, p.errs.samples[0])
	}
	return newOverheadRun(p, cpu1-cpu0), nil
}

// overheadOp returns the load's request and what closes its client. The
// state load saves every key first, so a miss is an error.
func overheadOp(ctx context.Context, cfg config, l overheadLoad, s *sidecar) (opFunc, func(), error) {
	if l.app {
		e := &httpEcho{client: newKeepAliveClient(),
			url: "http://127.0.0.1:" + strconv.Itoa(s.httpPort) + "/v1.0/invoke/" + overheadAppID + "/method/echo"}
		return e.call, e.close, nil
	}
	st := newHTTPState(s.httpPort, newPayload())
	if p := drive(ctx, keyPool, cfg.concurrency, st.save, everyKey); p.errs.count > 0 {
		st.close()
		return nil, nil, fmt.Errorf("prefill: %d errors, first: %s", p.errs.count, p.errs.samples[0])
	}
	// driveFor passes key 0 to every call; spread the gets over the pool.
	var next atomic.Int64
	get := func(ctx context.Context, _ int) error { return st.get(ctx, int(next.Add(1))%keyPool) }
	return get, st.close, nil
}

// overheadSidecarOpts is the sidecar of one variant: the state store
// always, and the variant's flags, Configuration and Resiliency.
func overheadSidecarOpts(v overheadVariant, sinkPort int) sidecarOpts {
	st := stores[0] // state.in-memory
	o := sidecarOpts{appID: overheadAppID, store: &st,
		args: []string{"--enable-metrics=" + strconv.FormatBool(v.metrics)}}
	if v.sampling != "" {
		o.config = tracingConfig(v.sampling, sinkPort)
	}
	if v.resiliency {
		o.files = map[string]string{"resiliency.yaml": resiliencyYAML()}
	}
	return o
}

// tracingConfig is a Configuration exporting spans over OTLP/HTTP to the
// sink at the sampling rate.
func tracingConfig(sampling string, sinkPort int) string {
	return `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: overhead
spec:
  tracing:
    samplingRate: "` + sampling + `"
    otel:
      endpointAddress: "127.0.0.1:` + strconv.Itoa(sinkPort) + `"
      isSecure: false
      protocol: http
`
}

// resiliencyYAML puts a retry (constant, 3 retries) and a 5s timeout on
// both loads' targets: the state store's outbound calls and invocations of
// the app itself. Neither fires on a healthy run; what is measured is the
// cost of having them on the path.
func resiliencyYAML() string {
	return `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: overhead
spec:
  policies:
    timeouts:
      general: 5s
    retries:
      threeTimes:
        policy: constant
        duration: 100ms
        maxRetries: 3
  targets:
    apps:
      ` + overheadAppID + `:
        timeout: general
        retry: threeTimes
    components:
      ` + storeName + `:
        outbound:
          timeout: general
          retry: threeTimes
`
}

// newOverheadRun turns one measured phase into its figures.
func newOverheadRun(p *phase, sidecarCPU time.Duration) overheadRun {
	r := overheadRun{Requests: len(p.latencies), P50US: us(percentile(p.latencies, 0.50)), P99US: us(percentile(p.latencies, 0.99))}
	if s := p.elapsed.Seconds(); s > 0 {
		r.RequestsPerSec = float64(r.Requests) / s
	}
	// µs per request = ms per 1,000 requests.
	r.SidecarCPUMSPer1k = perOpUS(sidecarCPU, r.Requests)
	return r
}
