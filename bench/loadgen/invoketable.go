package main

import (
	"fmt"
	"io"
)

// printInvoke writes one table per transport: each load's direct and A→B
// rows, then the difference.
func printInvoke(tw io.Writer, r *report) {
	for _, inv := range r.Invoke {
		what := "POST /echo"
		if inv.Transport == "grpc" {
			what = "TestService.UnaryCall"
		}
		fmt.Fprintf(tw, "\nService invocation over %s: %s with a %d-byte body; direct = loadgen → app, A→B = loadgen → sidecar A → sidecar B → app; each load is %d interleaved rounds per path (open loop %gs, closed loop %gs per path)\n",
			inv.Transport, what, inv.PayloadBytes, r.InvokeRounds, r.InvokeOpenSeconds, r.InvokeClosedSeconds)
		fmt.Fprintln(tw, "load\tpath\treq/s\tp50\tp90\tp99\tsend lag p99\tA CPU/1k req\tB CPU/1k req\tA+B CPU/req\tA RSS (max)\tB RSS (max)\tloadgen+app CPU/req")
		if len(inv.Phases) == 0 {
			fmt.Fprintf(tw, "%s\tfailed (%d errors)\n", inv.Name, inv.Errors)
			continue
		}
		for i, p := range inv.Phases {
			printInvokePhase(tw, p)
			if i%2 == 1 {
				a := inv.Added[i/2]
				// Every cell present, or tabwriter would end the column block.
				fmt.Fprintf(tw, "%s\tadded\t\t%+.0f µs\t%+.0f µs\t%+.0f µs\t\t\t\t\t\t\t\n", a.Load, a.P50US, a.P90US, a.P99US)
			}
		}
		if inv.Errors > 0 {
			fmt.Fprintf(tw, "errors: %d\n", inv.Errors)
		}
	}
}

func printInvokePhase(tw io.Writer, p invokePhase) {
	lag := "-"
	if p.SendLagP99US != nil {
		lag = fmt.Sprintf("%.0f µs", *p.SendLagP99US)
	}
	// The sidecars sit idle during direct calls: their CPU and RSS say
	// nothing there.
	cpuA, cpuB, both, rssA, rssB := "-", "-", "-", "-", "-"
	if p.Path != pathNames[0] {
		cpuA = fmt.Sprintf("%.1f ms", p.SidecarACPUMSPer1k)
		cpuB = fmt.Sprintf("%.1f ms", p.SidecarBCPUMSPer1k)
		both = fmt.Sprintf("%.0f µs", p.bothCPUUSPerReq())
		rssA, rssB = mbs(p.SidecarARSSBytes), mbs(p.SidecarBRSSBytes)
	}
	fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f µs\t%.0f µs\t%.0f µs\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f µs\n",
		p.Load, p.Path, p.ReqPerSec, p.P50US, p.P90US, p.P99US, lag, cpuA, cpuB, both, rssA, rssB, p.LoadgenCPUMSPer1k)
}

// printStreams writes the large-body transfers.
func printStreams(tw io.Writer, r *report) {
	if len(r.Streams) == 0 {
		return
	}
	fmt.Fprintln(tw, "\nStreamed body through A→B over HTTP, fresh sidecars with --max-body-size 1Gi, VmRSS sampled every 10 ms (growth = peak during the transfer − RSS before)")
	fmt.Fprintln(tw, "case\tsize\tMiB/s\tA RSS before\tA growth\tB RSS before\tB growth\terrors")
	for _, s := range r.Streams {
		if s.Errors > 0 {
			fmt.Fprintf(tw, "%s\t%s\tfailed (%d errors)\n", s.Name, mibs(s.Bytes), s.Errors)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%d\n", s.Name, mibs(s.Bytes), s.MiBPerSec,
			mibs(s.A.RSSBeforeBytes), mibs(s.A.GrowthBytes), mibs(s.B.RSSBeforeBytes), mibs(s.B.GrowthBytes), s.Errors)
	}
}

// printDaprInvoke gives Dapr's figures for context. They come from our
// issue; this tool did not measure them.
func printDaprInvoke(tw io.Writer) {
	fmt.Fprintln(tw, "\nDapr's service invocation figures, from our issue (NOT measured by this run):")
	fmt.Fprintln(tw, "  Dapr 1.17 adds +1.06 ms p50 (HTTP) and +1.68 ms (gRPC); two daprd spend about 490 µs CPU per request.")
}

func mibs(bytes int64) string { return fmt.Sprintf("%.1f MiB", float64(bytes)/mib) }
