package main

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

// report is everything one run measured; it is also the -json output.
type report struct {
	Suite       string          `json:"suite"`
	Binary      string          `json:"binary"`
	BinaryBytes int64           `json:"binary_bytes"`
	CPUs        int             `json:"cpus"`
	Ops         int             `json:"ops_per_case"`
	Warmup      int             `json:"warmup_per_case"`
	Concurrency int             `json:"concurrency"`
	Starts      int             `json:"starts_per_store"`
	Profiling   bool            `json:"heap_profiling"`
	Startup     []startupResult `json:"startup"`
	Cases       []caseResult    `json:"cases"`
	// Service invocation: the open-loop rate and per-path time of each load.
	InvokeRate          int            `json:"invoke_rate,omitempty"`
	InvokeOpenSeconds   float64        `json:"invoke_open_seconds,omitempty"`
	InvokeClosedSeconds float64        `json:"invoke_closed_seconds,omitempty"`
	InvokeRounds        int            `json:"invoke_rounds,omitempty"`
	Invoke              []invokeResult `json:"invoke,omitempty"`
	// Daprd is the daprd binary measured side by side, with its version.
	Daprd   string         `json:"daprd,omitempty"`
	Streams []streamResult `json:"streams,omitempty"`
	// Pub/sub: the open-loop rate and time, and the closed loads' time.
	PubsubRate        int            `json:"pubsub_rate,omitempty"`
	PubsubOpenSeconds float64        `json:"pubsub_open_seconds,omitempty"`
	PubsubLoadSeconds float64        `json:"pubsub_load_seconds,omitempty"`
	Pubsub            []pubsubResult `json:"pubsub,omitempty"`
	// Building blocks: the closed-loop time of each case.
	BlocksLoadSeconds float64        `json:"blocks_load_seconds,omitempty"`
	Blocks            []blocksResult `json:"blocks,omitempty"`
	// Actors: the closed-loop time of each call load.
	ActorsLoadSeconds float64       `json:"actors_load_seconds,omitempty"`
	Actors            *actorsReport `json:"actors,omitempty"`
	// Overhead: the closed-loop time per run and the rounds.
	OverheadLoadSeconds float64          `json:"overhead_load_seconds,omitempty"`
	OverheadRounds      int              `json:"overhead_rounds,omitempty"`
	Overhead            []overheadResult `json:"overhead,omitempty"`
	Targets             []targetCheck    `json:"targets"`
	Notes               []string         `json:"notes,omitempty"`
}

type startupResult struct {
	Store        string    `json:"store"`
	RunsMS       []float64 `json:"runs_ms"`
	MedianMS     float64   `json:"median_ms"`
	IdleRSSBytes int64     `json:"idle_rss_bytes"` // median over the starts
	Errors       []string  `json:"errors,omitempty"`
}

type caseResult struct {
	Name      string `json:"name"`
	Store     string `json:"store"`
	Transport string `json:"transport"`
	Op        string `json:"op"`
	phaseFigures
	SidecarCPUUSPerOp float64  `json:"sidecar_cpu_us_per_op"`
	LoadgenCPUUSPerOp float64  `json:"loadgen_cpu_us_per_op"`
	RSSBytes          int64    `json:"rss_bytes"`
	PeakRSSBytes      int64    `json:"peak_rss_bytes"`
	HeapInuseBytes    *int64   `json:"heap_inuse_bytes"` // null when n/a
	HeapNote          string   `json:"heap_note,omitempty"`
	Errors            int      `json:"errors"`
	ErrorSamples      []string `json:"error_samples,omitempty"`
}

func newReport(cfg config) (*report, error) {
	fi, err := os.Stat(cfg.bin)
	if err != nil {
		return nil, fmt.Errorf("binary: %w (run `make build` first)", err)
	}
	r := &report{
		Suite: cfg.suite, Binary: cfg.bin, BinaryBytes: fi.Size(), CPUs: runtime.NumCPU(),
		Ops: cfg.ops, Warmup: cfg.warmup, Concurrency: cfg.concurrency, Starts: cfg.starts,
	}
	if cfg.runs("invoke") {
		r.InvokeRate, r.InvokeRounds = cfg.rate, cfg.rounds
		r.InvokeOpenSeconds, r.InvokeClosedSeconds = cfg.duration.Seconds(), cfg.closedDuration.Seconds()
	}
	if cfg.runs("pubsub") {
		r.PubsubRate, r.PubsubOpenSeconds, r.PubsubLoadSeconds = cfg.rate, cfg.duration.Seconds(), cfg.pubsubLoad.Seconds()
	}
	if cfg.runs("blocks") {
		r.BlocksLoadSeconds = cfg.blocksLoad.Seconds()
	}
	if cfg.runs("actors") {
		r.ActorsLoadSeconds = cfg.actorsLoad.Seconds()
	}
	if cfg.runs("overhead") {
		r.OverheadLoadSeconds, r.OverheadRounds = cfg.overheadLoad.Seconds(), cfg.overheadRounds
	}
	return r, nil
}

// addErrors records a phase's failed requests and reports whether any failed.
func (c *caseResult) addErrors(phaseName string, p *phase) bool {
	p.errs.mu.Lock()
	defer p.errs.mu.Unlock()
	c.Errors += p.errs.count
	for _, s := range p.errs.samples {
		if len(c.ErrorSamples) < maxErrorSamples {
			c.ErrorSamples = append(c.ErrorSamples, phaseName+": "+s)
		}
	}
	return p.errs.count > 0
}

// phaseFigures are the size, rate and latency percentiles of a measured
// phase, which every suite's result carries (embedded, so the JSON stays
// flat).
type phaseFigures struct {
	Ops       int     `json:"ops"`
	Seconds   float64 `json:"seconds"`
	OpsPerSec float64 `json:"ops_per_sec"`
	P50US     float64 `json:"p50_us"`
	P90US     float64 `json:"p90_us"`
	P99US     float64 `json:"p99_us"`
}

func (f *phaseFigures) fillFigures(p *phase) {
	f.Ops = len(p.latencies)
	f.Seconds = p.elapsed.Seconds()
	if f.Seconds > 0 {
		f.OpsPerSec = float64(f.Ops) / f.Seconds
	}
	f.P50US = us(percentile(p.latencies, 0.50))
	f.P90US = us(percentile(p.latencies, 0.90))
	f.P99US = us(percentile(p.latencies, 0.99))
}

func (c *caseResult) fill(p *phase, sidecarCPU, selfCPU time.Duration, m memInfo) {
	c.fillFigures(p)
	c.SidecarCPUUSPerOp = perOpUS(sidecarCPU, c.Ops)
	c.LoadgenCPUUSPerOp = perOpUS(selfCPU, c.Ops)
	c.RSSBytes, c.PeakRSSBytes = m.rss, m.hwm
}

func (r *report) errorCount() int {
	n := 0
	for _, s := range r.Startup {
		n += len(s.Errors)
	}
	for _, c := range r.Cases {
		n += c.Errors
	}
	return n + r.invokeErrorCount() + r.pubsubErrorCount() + r.blocksErrorCount() + r.actorsErrorCount() + r.overheadErrorCount()
}

func (r *report) addHeapNote() {
	for _, c := range r.Cases {
		if c.HeapNote != "" && c.Errors == 0 {
			r.Notes = append(r.Notes, "Go heap in use is n/a for some cases: "+c.HeapNote)
			return
		}
	}
}

// targetCheck is one figure compared with its target. Targets are
// reported, never asserted.
type targetCheck struct {
	Figure string  `json:"figure"`
	Value  float64 `json:"value"`
	Limit  float64 `json:"limit"`
	Unit   string  `json:"unit"`
	Result string  `json:"result"`           // PASS, MISS, NOISY (measured, but the run was too noisy to judge), or n/a when not measured
	Strict bool    `json:"strict,omitempty"` // value must be below the limit, not equal
	// AtLeast: the value must reach the limit (a rate), not stay under it.
	AtLeast bool `json:"at_least,omitempty"`
}

// noisySendLagUS: above this send lag p99 on an open loop, loadgen itself
// could not keep to its schedule (Go timers wake about 1 ms late on a
// quiet machine), so the latency percentiles describe the machine more
// than the sidecars, and latency targets read NOISY.
const noisySendLagUS = 10_000

// sendLagNoisy applies noisySendLagUS to an open loop's send lag p99 (nil
// when none was measured).
func sendLagNoisy(lagP99US *float64) bool { return lagP99US != nil && *lagP99US > noisySendLagUS }

const mb = 1e6 // decimal megabytes throughout: the stricter reading of "MB"

// Targets for the sidecar; the CPU targets are about half of daprd's.
const (
	targetStartupMS    = 50
	targetIdleRSSMB    = 25
	targetBinaryMB     = 45
	targetHTTPGetUS    = 35
	targetHTTPSaveUS   = 45
	cpuTargetStore     = "memory"
	cpuTargetTransport = "http"
)

func checkTargets(r *report) []targetCheck {
	out := []targetCheck{check("binary size", float64(r.BinaryBytes)/mb, targetBinaryMB, "MB", true)}
	for _, s := range r.Startup {
		ok := len(s.RunsMS) > 0
		out = append(out,
			check("startup median ("+s.Store+")", s.MedianMS, targetStartupMS, "ms", ok),
			check("idle RSS ("+s.Store+")", float64(s.IdleRSSBytes)/mb, targetIdleRSSMB, "MB", ok))
	}
	for _, c := range r.Cases {
		if c.Store != cpuTargetStore || c.Transport != cpuTargetTransport {
			continue
		}
		limit := float64(targetHTTPSaveUS)
		if c.Op == "get" {
			limit = targetHTTPGetUS
		}
		out = append(out, check("sidecar CPU/op ("+c.Name+")", c.SidecarCPUUSPerOp, limit, "µs", c.Ops > 0))
	}
	out = append(out, invokeTargets(r)...)
	out = append(out, pubsubTargets(r)...)
	out = append(out, actorsTargets(r)...)
	return append(out, overheadTargets(r)...)
}

func check(figure string, value, limit float64, unit string, measured bool) targetCheck {
	t := targetCheck{Figure: figure, Value: value, Limit: limit, Unit: unit, Result: "n/a"}
	switch {
	case !measured:
	case value <= limit:
		t.Result = "PASS"
	default:
		t.Result = "MISS"
	}
	return t
}
