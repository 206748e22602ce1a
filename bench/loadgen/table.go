package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// printTable writes the human-readable report.
func printTable(w io.Writer, r *report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Outrigger sidecar benchmark: %s, %d CPUs, suite %s; MB = 10^6 bytes, MiB = 2^20 bytes\n\n",
		r.Binary, r.CPUs, r.Suite)
	fmt.Fprintf(tw, "Binary size: %s\n", mbs(r.BinaryBytes))
	if r.includes("state") {
		printState(tw, r)
	}
	if r.includes("invoke") {
		printInvoke(tw, r)
		printStreams(tw, r)
	}
	if r.includes("pubsub") {
		printPubsub(tw, r)
	}
	if r.includes("blocks") {
		printBlocks(tw, r)
	}
	if r.includes("actors") {
		printActors(tw, r)
	}
	if r.includes("overhead") {
		printOverhead(tw, r)
	}

	fmt.Fprintln(tw, "\nTargets (reported, not asserted)")
	fmt.Fprintln(tw, "figure\tvalue\ttarget\tresult")
	for _, t := range r.Targets {
		value := "-"
		if t.Result != "n/a" {
			value = fmt.Sprintf("%.1f %s", t.Value, t.Unit)
		}
		op := "≤"
		switch {
		case t.Strict:
			op = "<"
		case t.AtLeast:
			op = "≥"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s %g %s\t%s\n", t.Figure, value, op, t.Limit, t.Unit, t.Result)
	}
	if r.includes("invoke") {
		printDaprInvoke(tw, r)
	}
	if r.includes("pubsub") {
		printDaprPubsub(tw)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return printIssues(w, r)
}

func printState(tw io.Writer, r *report) {
	fmt.Fprintf(tw, "\nStartup: exec to first 204 on /v1.0/healthz, %d starts per store, profiling off\n", r.Starts)
	fmt.Fprintln(tw, "store\tmedian\tmin\tmax\tidle RSS (ready+1s, median)")
	for _, s := range r.Startup {
		if len(s.RunsMS) == 0 {
			fmt.Fprintf(tw, "%s\tfailed\n", s.Store)
			continue
		}
		fmt.Fprintf(tw, "%s\t%.1f ms\t%.1f ms\t%.1f ms\t%s\n", s.Store, s.MedianMS,
			slices.Min(s.RunsMS), slices.Max(s.RunsMS), mbs(s.IdleRSSBytes))
	}

	fmt.Fprintf(tw, "\nLoad: state API on a fresh sidecar per case, %d ops per case after %d warm-up, %d workers, keys from a pool of %d, %d-byte JSON values\n",
		r.Ops, r.Warmup, r.Concurrency, keyPool, valueSize)
	fmt.Fprintln(tw, "case\tops/s\tp50\tp90\tp99\tsidecar CPU/op\tloadgen CPU/op\tRSS after\tpeak RSS\theap in use\terrors")
	for _, c := range r.Cases {
		if c.Ops == 0 {
			fmt.Fprintf(tw, "%s\tfailed (%d errors)\n", c.Name, c.Errors)
			continue
		}
		heap := "n/a"
		if c.HeapInuseBytes != nil {
			heap = mbs(*c.HeapInuseBytes)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f µs\t%.0f µs\t%.0f µs\t%.1f µs\t%.1f µs\t%s\t%s\t%s\t%d\n",
			c.Name, c.OpsPerSec, c.P50US, c.P90US, c.P99US, c.SidecarCPUUSPerOp, c.LoadgenCPUUSPerOp,
			mbs(c.RSSBytes), mbs(c.PeakRSSBytes), heap, c.Errors)
	}
}

// printIssues lists errors (which fail the run) and notes (which do not).
func printIssues(w io.Writer, r *report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "\nErrors: %d\n", r.errorCount())
	for _, s := range r.Startup {
		for _, e := range s.Errors {
			fmt.Fprintf(&b, "  startup/%s: %s\n", s.Store, e)
		}
	}
	for _, c := range r.Cases {
		for _, e := range c.ErrorSamples {
			fmt.Fprintf(&b, "  %s: %s\n", c.Name, e)
		}
		if extra := c.Errors - len(c.ErrorSamples); extra > 0 {
			fmt.Fprintf(&b, "  %s: … and %d more\n", c.Name, extra)
		}
	}
	printPubsubErrors(&b, r)
	printBlocksErrors(&b, r)
	printActorsErrors(&b, r)
	printOverheadErrors(&b, r)
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "Note: %s\n", n)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// includes reports whether the run's suite covers s.
func (r *report) includes(s string) bool { return r.Suite == "all" || r.Suite == s }

func mbs(bytes int64) string { return fmt.Sprintf("%.1f MB", float64(bytes)/mb) }
