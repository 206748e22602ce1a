package main

import (
	"fmt"
	"io"
)

// printInvoke writes one table per transport: each load's rows (direct,
// the reference proxies for HTTP, A→B), then each path's latency over
// direct, then the sidecars against the reference proxies.
func printInvoke(tw io.Writer, r *report) {
	for _, inv := range r.Invoke {
		what := "POST /echo"
		if inv.Transport == "grpc" {
			what = "TestService.UnaryCall"
		}
		fmt.Fprintf(tw, "\nService invocation over %s: %s with a %d-byte body; direct = loadgen → app, A→B = loadgen → sidecar A → sidecar B → app", inv.Transport, what, inv.PayloadBytes)
		if _, ok := inv.phase(inv.firstLoad(), pathProxies); ok {
			fmt.Fprint(tw, ", proxies = loadgen → proxy A → proxy B → app (plain Go reverse proxies: net/http and httputil.ReverseProxy with GOMAXPROCS=1, as the sidecars run at a moderate rate; their CPU and RSS in the A and B columns)")
		}
		fmt.Fprintf(tw, "; each load is %d interleaved rounds per path (open loop %gs, closed loop %gs per path)\n",
			r.InvokeRounds, r.InvokeOpenSeconds, r.InvokeClosedSeconds)
		fmt.Fprintln(tw, "load\tpath\treq/s\tp50\tp90\tp99\tsend lag p99\tA CPU/1k req\tB CPU/1k req\tA+B CPU/req\tA RSS (max)\tB RSS (max)\tloadgen+app CPU/req")
		if len(inv.Phases) == 0 {
			fmt.Fprintf(tw, "%s\tfailed (%d errors)\n", inv.Name, inv.Errors)
			continue
		}
		for i, p := range inv.Phases {
			printInvokePhase(tw, p)
			if i+1 < len(inv.Phases) && inv.Phases[i+1].Load == p.Load {
				continue
			}
			for _, a := range inv.Added {
				if a.Load == p.Load {
					// Every cell present, or tabwriter would end the column block.
					fmt.Fprintf(tw, "%s\tadded (%s)\t\t%+.0f µs\t%+.0f µs\t%+.0f µs\t\t\t\t\t\t\t\n", a.Load, a.Path, a.P50US, a.P90US, a.P99US)
				}
			}
		}
		printAgainstReference(tw, inv)
		if inv.Errors > 0 {
			fmt.Fprintf(tw, "errors: %d\n", inv.Errors)
		}
	}
}

// printAgainstReference gives, for each load, the sidecars' CPU and added
// latency beside the reference proxies' and daprd's in the same run.
func printAgainstReference(tw io.Writer, inv invokeResult) {
	for _, p := range inv.Phases {
		if p.Path != pathSidecars {
			continue
		}
		addS, okS := inv.added(p.Load, pathSidecars)
		for _, other := range []struct{ path, name string }{{pathProxies, "reference proxies"}, {pathDaprd, "daprd"}} {
			ref, ok := inv.phase(p.Load, other.path)
			addR, okR := inv.added(p.Load, other.path)
			if !ok || !okS || !okR || ref.bothCPUUSPerReq() <= 0 {
				continue
			}
			fmt.Fprintf(tw, "%s: sidecars vs %s: A+B CPU %.0f vs %.0f µs/req (%.2f×), added p50 %+.0f vs %+.0f µs\n",
				p.Load, other.name, p.bothCPUUSPerReq(), ref.bothCPUUSPerReq(), p.bothCPUUSPerReq()/ref.bothCPUUSPerReq(), addS.P50US, addR.P50US)
		}
	}
}

func printInvokePhase(tw io.Writer, p invokePhase) {
	lag := "-"
	if p.SendLagP99US != nil {
		lag = fmt.Sprintf("%.0f µs", *p.SendLagP99US)
	}
	// Nothing stands between loadgen and the app on the direct path.
	cpuA, cpuB, both, rssA, rssB := "-", "-", "-", "-", "-"
	if p.Path != pathDirect {
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

// printDaprInvoke gives Dapr's figures for context: those from our issue,
// which this tool did not measure, and whether a daprd ran beside ours.
func printDaprInvoke(tw io.Writer, r *report) {
	fmt.Fprintln(tw, "\nDapr's service invocation figures, from our issue (NOT measured by this run):")
	fmt.Fprintln(tw, "  Dapr 1.17 adds +1.06 ms p50 (HTTP) and +1.68 ms (gRPC); two daprd spend about 490 µs CPU per request.")
	if r.Daprd != "" {
		fmt.Fprintf(tw, "Measured in this run, on the %q rows: two daprd (%s).\n", pathDaprd, r.Daprd)
	} else {
		fmt.Fprintln(tw, "  To measure a daprd binary side by side, pass it with -daprd.")
	}
}

func mibs(bytes int64) string { return fmt.Sprintf("%.1f MiB", float64(bytes)/mib) }
