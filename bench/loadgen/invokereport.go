package main

import (
	"fmt"
	"slices"
)

// invokeResult is one transport's echo case: every load, both paths.
type invokeResult struct {
	Name         string        `json:"name"`
	Transport    string        `json:"transport"`
	PayloadBytes int           `json:"payload_bytes"`
	Phases       []invokePhase `json:"phases"`
	Added        []addedDelay  `json:"added"` // each other path minus direct, per load
	Errors       int           `json:"errors"`
	ErrorSamples []string      `json:"error_samples,omitempty"`
}

// invokePhase is one path under one load, all rounds together.
type invokePhase struct {
	Load       string  `json:"load"` // e.g. "open 1000 req/s", "closed 16 workers"
	Path       string  `json:"path"` // direct, proxies or A→B
	TargetRate int     `json:"target_rate,omitempty"`
	Workers    int     `json:"workers"`
	Requests   int     `json:"requests"`
	Seconds    float64 `json:"seconds"`
	ReqPerSec  float64 `json:"req_per_sec"`
	P50US      float64 `json:"p50_us"`
	P90US      float64 `json:"p90_us"`
	P99US      float64 `json:"p99_us"`
	// SendLagP99US is how late the open loop sent against its schedule.
	SendLagP99US *float64 `json:"send_lag_p99_us,omitempty"`
	// CPU per 1,000 requests in ms (equal to µs per request).
	SidecarACPUMSPer1k float64 `json:"sidecar_a_cpu_ms_per_1k"`
	SidecarBCPUMSPer1k float64 `json:"sidecar_b_cpu_ms_per_1k"`
	LoadgenCPUMSPer1k  float64 `json:"loadgen_cpu_ms_per_1k"` // includes the echo app
	SidecarARSSBytes   int64   `json:"sidecar_a_rss_bytes"`   // highest sampled VmRSS
	SidecarBRSSBytes   int64   `json:"sidecar_b_rss_bytes"`
}

// addedDelay is the latency a path's two processes (sidecars or reference
// proxies) add under one load.
type addedDelay struct {
	Load  string  `json:"load"`
	Path  string  `json:"path"`
	P50US float64 `json:"p50_us"`
	P90US float64 `json:"p90_us"`
	P99US float64 `json:"p99_us"`
}

// bothCPUUSPerReq is what A and B together spend per proxied request.
func (p invokePhase) bothCPUUSPerReq() float64 { return p.SidecarACPUMSPer1k + p.SidecarBCPUMSPer1k }

func (r *invokeResult) addError(err error) {
	r.Errors++
	if len(r.ErrorSamples) < maxErrorSamples {
		r.ErrorSamples = append(r.ErrorSamples, err.Error())
	}
}

// addErrors records a log's failed requests and reports whether any failed.
func (r *invokeResult) addErrors(phaseName string, e *errorLog) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	r.Errors += e.count
	for _, s := range e.samples {
		if len(r.ErrorSamples) < maxErrorSamples {
			r.ErrorSamples = append(r.ErrorSamples, phaseName+": "+s)
		}
	}
	return e.count > 0
}

// addLoad turns one load's totals into phases, and each path's latency
// over the direct one. The direct path comes first.
func (r *invokeResult) addLoad(load string, rate, workers int, totals []*pathTotals) error {
	phases := make([]invokePhase, len(totals))
	for i, t := range totals {
		if t.err != nil {
			return fmt.Errorf("%s %s: %w", load, t.path, t.err)
		}
		r.addErrors(load+" "+t.path, &t.errs)
		phases[i] = t.phase(load, t.path, rate, workers)
	}
	r.Phases = append(r.Phases, phases...)
	for _, p := range phases[1:] {
		r.Added = append(r.Added, addedDelay{Load: load, Path: p.Path,
			P50US: p.P50US - phases[0].P50US,
			P90US: p.P90US - phases[0].P90US,
			P99US: p.P99US - phases[0].P99US})
	}
	return nil
}

// phase finds a path's figures under a load.
func (r *invokeResult) phase(load, path string) (invokePhase, bool) {
	for _, p := range r.Phases {
		if p.Load == load && p.Path == path {
			return p, true
		}
	}
	return invokePhase{}, false
}

// firstLoad is the name of the first load measured, "" if none.
func (r *invokeResult) firstLoad() string {
	if len(r.Phases) == 0 {
		return ""
	}
	return r.Phases[0].Load
}

// added finds a path's added latency under a load.
func (r *invokeResult) added(load, path string) (addedDelay, bool) {
	for _, a := range r.Added {
		if a.Load == load && a.Path == path {
			return a, true
		}
	}
	return addedDelay{}, false
}

func (t *pathTotals) phase(load, path string, rate, workers int) invokePhase {
	slices.Sort(t.lat)
	n := len(t.lat)
	p := invokePhase{Load: load, Path: path, TargetRate: rate, Workers: workers, Requests: n,
		Seconds: t.elapsed.Seconds(),
		P50US:   us(percentile(t.lat, 0.50)),
		P90US:   us(percentile(t.lat, 0.90)),
		P99US:   us(percentile(t.lat, 0.99)),
		// µs per request is ms per 1,000 requests.
		SidecarACPUMSPer1k: perOpUS(t.cpuA, n),
		SidecarBCPUMSPer1k: perOpUS(t.cpuB, n),
		LoadgenCPUMSPer1k:  perOpUS(t.self, n),
		SidecarARSSBytes:   t.rssA,
		SidecarBRSSBytes:   t.rssB,
	}
	if p.Seconds > 0 {
		p.ReqPerSec = float64(n) / p.Seconds
	}
	if rate > 0 {
		slices.Sort(t.lags)
		lag := us(percentile(t.lags, 0.99))
		p.SendLagP99US = &lag
	}
	return p
}

// streamResult is one 100 MiB transfer through A→B.
type streamResult struct {
	Name         string        `json:"name"`
	Bytes        int64         `json:"bytes"`
	Seconds      float64       `json:"seconds"`
	MiBPerSec    float64       `json:"mib_per_sec"`
	A            sidecarGrowth `json:"sidecar_a"`
	B            sidecarGrowth `json:"sidecar_b"`
	Errors       int           `json:"errors"`
	ErrorSamples []string      `json:"error_samples,omitempty"`
}

type sidecarGrowth struct {
	RSSBeforeBytes int64 `json:"rss_before_bytes"`
	PeakRSSBytes   int64 `json:"peak_rss_bytes"`
	GrowthBytes    int64 `json:"growth_bytes"`
}

// Service invocation targets, against the same run's direct calls.
const (
	targetAddedP50US     = 350  // 0.35 ms at the open-loop rate with 1 KB bodies
	targetAddedP99US     = 1000 // 1 ms
	targetBothCPUUSReq   = 250  // A and B together, per proxied request
	targetStreamGrowthMi = 16   // each sidecar, strictly below, for the streamed body
)

// invokeTargets checks the open-loop load (the fixed-rate one the latency
// targets are about) and every streamed transfer. A latency figure from a
// run too noisy to judge (see latencyNoisy) is NOISY, never PASS or MISS.
func invokeTargets(r *report) []targetCheck {
	var out []targetCheck
	at := fmt.Sprintf(" at %d req/s", r.InvokeRate)
	load := fmt.Sprintf("open %d req/s", r.InvokeRate)
	for _, inv := range r.Invoke {
		added, okAdded := inv.added(load, pathSidecars)
		proxied, okPhase := inv.phase(load, pathSidecars)
		ok := okAdded && okPhase && inv.Errors == 0
		p50 := check(inv.Name+" added p50"+at, added.P50US, targetAddedP50US, "µs", ok)
		p99 := check(inv.Name+" added p99"+at, added.P99US, targetAddedP99US, "µs", ok)
		if ok && inv.latencyNoisy(load, added) {
			p50.Result, p99.Result = "NOISY", "NOISY"
		}
		out = append(out, p50, p99,
			check(inv.Name+" A+B CPU/request"+at, proxied.bothCPUUSPerReq(), targetBothCPUUSReq, "µs", ok))
	}
	for _, s := range r.Streams {
		ok := s.Errors == 0
		for _, g := range []struct {
			name string
			v    sidecarGrowth
		}{{"A", s.A}, {"B", s.B}} {
			out = append(out, checkBelow(s.Name+" RSS growth of "+g.name, float64(g.v.GrowthBytes)/mib, targetStreamGrowthMi, "MiB", ok))
		}
	}
	return out
}

// latencyNoisy reports whether a load's added latency cannot be judged:
// loadgen fell behind its schedule on some path, or the sidecars "added"
// less than nothing, which only noise between the rounds can do.
func (r *invokeResult) latencyNoisy(load string, added addedDelay) bool {
	if added.P50US < 0 || added.P99US < 0 {
		return true
	}
	for _, p := range r.Phases {
		if p.Load == load && sendLagNoisy(p.SendLagP99US) {
			return true
		}
	}
	return false
}

// checkBelow is check for a strict "less than" target.
func checkBelow(figure string, value, limit float64, unit string, measured bool) targetCheck {
	t := check(figure, value, limit, unit, measured)
	t.Strict = true
	if measured && value >= limit {
		t.Result = "MISS"
	}
	return t
}

func (r *report) invokeErrorCount() int {
	n := 0
	for _, inv := range r.Invoke {
		n += inv.Errors
	}
	for _, s := range r.Streams {
		n += s.Errors
	}
	return n
}
