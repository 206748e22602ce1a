package main

import (
	"fmt"
	"io"
	"slices"
)

// overheadRun is one measured closed loop on one fresh sidecar.
type overheadRun struct {
	Requests          int     `json:"requests"`
	RequestsPerSec    float64 `json:"requests_per_sec"`
	P50US             float64 `json:"p50_us"`
	P99US             float64 `json:"p99_us"`
	SidecarCPUMSPer1k float64 `json:"sidecar_cpu_ms_per_1k_requests"`
}

// overheadResult is one variant of one load: the medians over its runs and
// its CPU against the baseline of the same load in the same run.
type overheadResult struct {
	Load              string        `json:"load"`
	Variant           string        `json:"variant"`
	Runs              []overheadRun `json:"runs"`
	RequestsPerSec    float64       `json:"requests_per_sec"`
	P50US             float64       `json:"p50_us"`
	P99US             float64       `json:"p99_us"`
	SidecarCPUMSPer1k float64       `json:"sidecar_cpu_ms_per_1k_requests"`
	// CPURatio is SidecarCPUMSPer1k over the baseline's; 0 when either
	// is missing.
	CPURatio     float64  `json:"cpu_ratio_vs_baseline"`
	TraceExports int64    `json:"trace_exports"` // OTLP requests the sink answered during this variant's runs
	Errors       int      `json:"errors"`
	ErrorSamples []string `json:"error_samples,omitempty"`
}

func (r *overheadResult) addError(err error) {
	if err == nil {
		return
	}
	r.Errors++
	if len(r.ErrorSamples) < maxErrorSamples {
		r.ErrorSamples = append(r.ErrorSamples, err.Error())
	}
}

// summarizeOverhead fills each variant's medians and, once the baseline's
// are known, the CPU ratios. res holds the variants of one load.
func summarizeOverhead(res []overheadResult) {
	var base float64
	for i := range res {
		r := &res[i]
		if len(r.Runs) == 0 {
			continue
		}
		r.RequestsPerSec = medianOf(r.Runs, func(x overheadRun) float64 { return x.RequestsPerSec })
		r.P50US = medianOf(r.Runs, func(x overheadRun) float64 { return x.P50US })
		r.P99US = medianOf(r.Runs, func(x overheadRun) float64 { return x.P99US })
		r.SidecarCPUMSPer1k = medianOf(r.Runs, func(x overheadRun) float64 { return x.SidecarCPUMSPer1k })
		if r.Variant == overheadBaseline {
			base = r.SidecarCPUMSPer1k
		}
	}
	if base <= 0 {
		return
	}
	for i := range res {
		if len(res[i].Runs) > 0 {
			res[i].CPURatio = res[i].SidecarCPUMSPer1k / base
		}
	}
}

func medianOf(runs []overheadRun, f func(overheadRun) float64) float64 {
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	return median(v)
}

// targetOverheadPct is the most a feature may add to the sidecar's CPU per
// request at sampling 0 (issue 7: "none may add more than 10 %").
const targetOverheadPct = 10

// overheadTargets checks metrics, tracing at sampling 0 and resiliency
// against the baseline of each load, as a percentage over it.
func overheadTargets(r *report) []targetCheck {
	labels := map[string]string{
		"metrics":    "metrics on",
		"tracing-0":  "tracing at sampling 0",
		"resiliency": "resiliency policy",
	}
	var out []targetCheck
	for _, o := range r.Overhead {
		label, ok := labels[o.Variant]
		if !ok {
			continue
		}
		out = append(out, check(label+": sidecar CPU/1k req over baseline ("+o.Load+")",
			(o.CPURatio-1)*100, targetOverheadPct, "%", o.CPURatio > 0))
	}
	return out
}

func (r *report) overheadErrorCount() int {
	n := 0
	for _, o := range r.Overhead {
		n += o.Errors
	}
	return n
}

// printOverhead writes the overhead table.
func printOverhead(tw io.Writer, r *report) {
	fmt.Fprintf(tw, "\nOverhead: a fresh sidecar per run, %d warm-up requests, then a closed loop of %d workers for %gs; %d rounds of all variants in alternating order, medians shown; state-get = HTTP GET on state.in-memory, invoke-self = HTTP invoke of the sidecar's own app (1 KiB echo)\n",
		r.Warmup, r.Concurrency, r.OverheadLoadSeconds, r.OverheadRounds)
	fmt.Fprintln(tw, "load\tvariant\treq/s\tp50\tp99\tsidecar CPU/1k req\tvs baseline\truns (CPU/1k req)\ttrace exports\terrors")
	for _, o := range r.Overhead {
		if len(o.Runs) == 0 {
			fmt.Fprintf(tw, "%s\t%s\tfailed (%d errors)\n", o.Load, o.Variant, o.Errors)
			continue
		}
		ratio := "-"
		if o.CPURatio > 0 {
			ratio = fmt.Sprintf("%.2f×", o.CPURatio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f µs\t%.0f µs\t%.1f ms\t%s\t%s\t%d\t%d\n",
			o.Load, o.Variant, o.RequestsPerSec, o.P50US, o.P99US, o.SidecarCPUMSPer1k, ratio,
			runsCPU(o.Runs), o.TraceExports, o.Errors)
	}
}

// runsCPU lists the runs' CPU per 1k requests, sorted, to show the spread
// the median was taken from.
func runsCPU(runs []overheadRun) string {
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = r.SidecarCPUMSPer1k
	}
	slices.Sort(v)
	s := ""
	for i, x := range v {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%.1f", x)
	}
	return s
}

// printOverheadErrors lists the first failures of each variant.
func printOverheadErrors(w io.Writer, r *report) {
	for _, o := range r.Overhead {
		name := o.Load + "/" + o.Variant
		for _, e := range o.ErrorSamples {
			fmt.Fprintf(w, "  %s: %s\n", name, e)
		}
		if extra := o.Errors - len(o.ErrorSamples); extra > 0 {
			fmt.Fprintf(w, "  %s: … and %d more\n", name, extra)
		}
	}
}
