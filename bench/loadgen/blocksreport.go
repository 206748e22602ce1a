package main

import (
	"fmt"
	"io"
	"time"
)

// blocksResult is one load of the blocks suite.
type blocksResult struct {
	Name      string `json:"name"` // blocks/<api>/<component>
	Component string `json:"component"`
	Skipped   string `json:"skipped,omitempty"`
	Workers   int    `json:"workers"`
	phaseFigures
	// RequestsPerOp is the HTTP requests per operation: 1 for secrets and
	// bindings; for locks the try-locks of one acquisition plus its unlock.
	RequestsPerOp float64 `json:"requests_per_op"`
	// CPU in ms per 1,000 operations (= µs per operation), and per 1,000
	// HTTP requests.
	SidecarCPUMSPer1k    float64  `json:"sidecar_cpu_ms_per_1k_ops"`
	SidecarCPUMSPer1kReq float64  `json:"sidecar_cpu_ms_per_1k_requests"`
	LoadgenCPUMSPer1k    float64  `json:"loadgen_cpu_ms_per_1k_ops"`
	RSSBytes             int64    `json:"rss_bytes"`
	Errors               int      `json:"errors"`
	ErrorSamples         []string `json:"error_samples,omitempty"`
}

// fill sets the figures of a measured phase of requests HTTP requests.
func (r *blocksResult) fill(p *phase, requests int64, sidecarCPU, selfCPU time.Duration, m memInfo) {
	r.fillFigures(p)
	if r.Ops > 0 {
		r.RequestsPerOp = float64(requests) / float64(r.Ops)
	}
	// µs per op = ms per 1,000 ops.
	r.SidecarCPUMSPer1k = perOpUS(sidecarCPU, r.Ops)
	r.SidecarCPUMSPer1kReq = perOpUS(sidecarCPU, int(requests))
	r.LoadgenCPUMSPer1k = perOpUS(selfCPU, r.Ops)
	r.RSSBytes = m.rss
}

// addError records err; nil is ignored.
func (r *blocksResult) addError(err error) {
	if err == nil {
		return
	}
	r.Errors++
	if len(r.ErrorSamples) < maxErrorSamples {
		r.ErrorSamples = append(r.ErrorSamples, err.Error())
	}
}

// addErrorLog records a phase's failures and reports whether there were any.
func (r *blocksResult) addErrorLog(name string, e *errorLog) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	r.Errors += e.count
	for _, s := range e.samples {
		if len(r.ErrorSamples) < maxErrorSamples {
			r.ErrorSamples = append(r.ErrorSamples, name+": "+s)
		}
	}
	return e.count > 0
}

func (r *report) blocksErrorCount() int {
	n := 0
	for _, b := range r.Blocks {
		n += b.Errors
	}
	return n
}

// printBlocks writes the blocks table.
func printBlocks(tw io.Writer, r *report) {
	fmt.Fprintf(tw, "\nBuilding blocks: a fresh sidecar per case, %d warm-up ops, then a closed loop of %d workers for %gs; one op = one lock acquire+release (4 resources), one secret get, one output binding call\n",
		r.Warmup, r.Concurrency, r.BlocksLoadSeconds)
	fmt.Fprintln(tw, "case\tops/s\tp50\tp90\tp99\treq/op\tsidecar CPU/1k ops\tsidecar CPU/1k req\tloadgen CPU/1k ops\tRSS after\terrors")
	for _, b := range r.Blocks {
		switch {
		case b.Skipped != "":
			fmt.Fprintf(tw, "%s\tskipped: %s\n", b.Name, b.Skipped)
		case b.Ops == 0:
			fmt.Fprintf(tw, "%s\tfailed (%d errors)\n", b.Name, b.Errors)
		default:
			fmt.Fprintf(tw, "%s\t%.0f\t%.0f µs\t%.0f µs\t%.0f µs\t%.2f\t%.1f ms\t%.1f ms\t%.1f ms\t%s\t%d\n",
				b.Name, b.OpsPerSec, b.P50US, b.P90US, b.P99US, b.RequestsPerOp,
				b.SidecarCPUMSPer1k, b.SidecarCPUMSPer1kReq, b.LoadgenCPUMSPer1k, mbs(b.RSSBytes), b.Errors)
		}
	}
}

// printBlocksErrors lists the first failures of each case.
func printBlocksErrors(w io.Writer, r *report) {
	for _, b := range r.Blocks {
		for _, e := range b.ErrorSamples {
			fmt.Fprintf(w, "  %s: %s\n", b.Name, e)
		}
		if extra := b.Errors - len(b.ErrorSamples); extra > 0 {
			fmt.Fprintf(w, "  %s: … and %d more\n", b.Name, extra)
		}
	}
}
