package main

import (
	"fmt"
	"io"
)

// pubsubResult is one broker's figures.
type pubsubResult struct {
	Broker string `json:"broker"` // memory, sqlite, redis
	Type   string `json:"type"`
	// SameSidecar: one sidecar published and delivered (in-memory); its CPU
	// is reported as both the publisher's and the subscriber's.
	SameSidecar  bool              `json:"same_sidecar"`
	Skipped      string            `json:"skipped,omitempty"`
	Publish      *publishFigures   `json:"publish,omitempty"`
	E2E          []e2ePhase        `json:"e2e,omitempty"` // open loop, then max rate
	Bulk         *e2ePhase         `json:"bulk,omitempty"`
	Durability   *durabilityResult `json:"durability,omitempty"`
	Errors       int               `json:"errors"`
	ErrorSamples []string          `json:"error_samples,omitempty"`
}

// publishFigures is the closed loop of publishes nobody receives.
type publishFigures struct {
	Workers   int     `json:"workers"`
	Published int     `json:"published"`
	Seconds   float64 `json:"seconds"`
	PerSec    float64 `json:"per_sec"`
	P50US     float64 `json:"p50_us"`
	P99US     float64 `json:"p99_us"`
	// CPU per 1,000 publishes in ms (µs per publish).
	PubCPUMSPer1k     float64 `json:"publisher_cpu_ms_per_1k"`
	LoadgenCPUMSPer1k float64 `json:"loadgen_cpu_ms_per_1k"`
}

// e2ePhase is one load from publish to the app's handler.
type e2ePhase struct {
	Load       string `json:"load"`
	TargetRate int    `json:"target_rate,omitempty"`
	Published  int    `json:"published"` // accepted by the sidecar
	Delivered  int    `json:"delivered"` // unique messages the app got
	Duplicates int    `json:"duplicates"`
	Lost       int    `json:"lost"`
	// PublishPerSec is over the publishing time; DeliveredPerSec over the
	// time from the first publish to the last new delivery.
	PublishPerSec   float64  `json:"publish_per_sec"`
	DeliveredPerSec float64  `json:"delivered_per_sec"`
	P50US           float64  `json:"p50_us"` // handler receive − publish send
	P90US           float64  `json:"p90_us"`
	P99US           float64  `json:"p99_us"`
	SendLagP99US    *float64 `json:"send_lag_p99_us,omitempty"`
	// CPU per 1,000 messages in ms (µs per message): the publisher's per
	// message published, the subscriber's per message delivered.
	PubCPUMSPer1k     float64 `json:"publisher_cpu_ms_per_1k"`
	SubCPUMSPer1k     float64 `json:"subscriber_cpu_ms_per_1k"`
	LoadgenCPUMSPer1k float64 `json:"loadgen_cpu_ms_per_1k"` // includes the app
	// SubRSSBytes is the subscribing sidecar's highest VmRSS sampled every
	// 100 ms: where an in-memory backlog shows.
	SubRSSBytes int64 `json:"subscriber_rss_bytes"`
}

// durabilityResult is the kill -9 spot check.
type durabilityResult struct {
	Messages      int     `json:"messages"`
	Published     int     `json:"published"`
	PublishPerSec float64 `json:"publish_per_sec"`
	// When the subscriber was killed: messages published and delivered.
	KilledAtPublished int     `json:"killed_at_published"`
	KilledAtDelivered int     `json:"killed_at_delivered"`
	RestartMS         float64 `json:"restart_ms"` // kill to ready again
	Delivered         int     `json:"delivered_unique"`
	Duplicates        int     `json:"duplicates"`
	Lost              int     `json:"lost"`
	Seconds           float64 `json:"seconds"` // first publish to last new delivery
	DeliveredPerSec   float64 `json:"delivered_per_sec"`
}

// addError records err; nil is ignored, so teardown errors can be passed
// as they come.
func (r *pubsubResult) addError(err error) {
	if err == nil {
		return
	}
	r.Errors++
	if len(r.ErrorSamples) < maxErrorSamples {
		r.ErrorSamples = append(r.ErrorSamples, err.Error())
	}
}

// addErrorLog records a log's failures and reports whether there were any.
func (r *pubsubResult) addErrorLog(name string, e *errorLog) bool {
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

// Pub/sub targets.
const (
	targetMemoryP50US      = 1000  // in-memory e2e p50 at the open-loop rate
	targetMemoryCPUUS      = 200   // in-memory sidecar CPU per message published and delivered
	targetBulkPerSec       = 20000 // in-memory delivered msg/s with bulk subscribe
	targetSqlitePerSec     = 5000  // sqlite delivered msg/s at max rate
	targetSqliteLostOnKill = 0
)

func pubsubTargets(r *report) []targetCheck {
	var out []targetCheck
	at := fmt.Sprintf(" at %d msg/s", r.PubsubRate)
	for _, ps := range r.Pubsub {
		switch ps.Broker {
		case "memory":
			open, ok := ps.phase(0)
			maxRate, okMax := ps.phase(1)
			// The CPU target names no load: both are shown, the fixed rate
			// (where idle wake-ups weigh most) and full speed.
			p50 := check("pubsub/memory e2e p50"+at, open.P50US, targetMemoryP50US, "µs", ok)
			if ok && open.latencyNoisy() {
				p50.Result = "NOISY"
			}
			out = append(out, p50,
				check("pubsub/memory sidecar CPU per message published+delivered"+at, open.SubCPUMSPer1k, targetMemoryCPUUS, "µs", ok),
				check("pubsub/memory sidecar CPU per message published+delivered at max rate", maxRate.SubCPUMSPer1k, targetMemoryCPUUS, "µs", okMax))
			var bulk float64
			if ps.Bulk != nil {
				bulk = ps.Bulk.DeliveredPerSec
			}
			out = append(out, checkAtLeast("pubsub/memory delivered msg/s, bulk subscribe", bulk, targetBulkPerSec, "msg/s", ps.Bulk != nil))
		case "sqlite":
			maxRate, ok := ps.phase(1)
			out = append(out, checkAtLeast("pubsub/sqlite delivered msg/s at max rate", maxRate.DeliveredPerSec, targetSqlitePerSec, "msg/s", ok))
			var lost float64
			if ps.Durability != nil {
				lost = float64(ps.Durability.Lost)
			}
			out = append(out, check("pubsub/sqlite messages lost across kill -9", lost, targetSqliteLostOnKill, "msgs", ps.Durability != nil))
		}
	}
	return out
}

// latencyNoisy reports whether the phase's latency cannot be judged:
// loadgen fell behind its publishing schedule (see noisySendLagUS).
func (p e2ePhase) latencyNoisy() bool {
	return sendLagNoisy(p.SendLagP99US)
}

// phase returns the i-th end-to-end load (0 open loop, 1 max rate).
func (r pubsubResult) phase(i int) (e2ePhase, bool) {
	if i >= len(r.E2E) {
		return e2ePhase{}, false
	}
	return r.E2E[i], true
}

// checkAtLeast is check for a "no less than" target.
func checkAtLeast(figure string, value, limit float64, unit string, measured bool) targetCheck {
	t := check(figure, value, limit, unit, measured)
	t.AtLeast = true
	if measured {
		t.Result = "PASS"
		if value < limit {
			t.Result = "MISS"
		}
	}
	return t
}

func (r *report) pubsubErrorCount() int {
	n := 0
	for _, ps := range r.Pubsub {
		n += ps.Errors
	}
	return n
}

// printPubsub writes the publish, end-to-end and durability tables.
func printPubsub(tw io.Writer, r *report) {
	if len(r.Pubsub) == 0 {
		return
	}
	fmt.Fprintf(tw, "\nPub/sub over HTTP, component %q; the subscriber app runs inside loadgen. memory: one sidecar publishes and delivers (its CPU is shown as both pub and sub); sqlite (one shared file), redis: publisher sidecar → broker → subscriber sidecar → app\n", pubsubName)
	fmt.Fprintf(tw, "\nPublish rate: closed loop, %d workers, %gs, to a topic nobody subscribes to\n", r.Concurrency, r.PubsubLoadSeconds)
	fmt.Fprintln(tw, "broker\tmsg/s\tp50\tp99\tpub CPU/1k msgs\tloadgen CPU/msg")
	for _, ps := range r.Pubsub {
		switch {
		case ps.Skipped != "":
			fmt.Fprintf(tw, "%s\tskipped: %s\n", ps.Broker, ps.Skipped)
		case ps.Publish != nil:
			p := ps.Publish
			fmt.Fprintf(tw, "%s\t%.0f\t%.0f µs\t%.0f µs\t%.1f ms\t%.0f µs\n", ps.Broker, p.PerSec, p.P50US, p.P99US, p.PubCPUMSPer1k, p.LoadgenCPUMSPer1k)
		}
	}
	fmt.Fprintf(tw, "\nEnd to end: latency = app handler receive − publish send (the payload carries the send time); delivered/s = unique deliveries / (last new delivery − first publish); open loop %gs, max rate and bulk %gs of publishing\n",
		r.PubsubOpenSeconds, r.PubsubLoadSeconds)
	fmt.Fprintln(tw, "broker\tload\tpublished\tpublish/s\tdelivered\tdelivered/s\tdups\tlost\tp50\tp90\tp99\tsend lag p99\tpub CPU/1k msgs\tsub CPU/1k msgs\tloadgen+app CPU/msg\tsub RSS (max)")
	for _, ps := range r.Pubsub {
		for _, p := range ps.E2E {
			printE2E(tw, ps.Broker, p)
		}
		if ps.Bulk != nil {
			printE2E(tw, ps.Broker, *ps.Bulk)
		}
		if ps.Errors > 0 && len(ps.E2E) == 0 && ps.Bulk == nil {
			fmt.Fprintf(tw, "%s\tfailed (%d errors)\n", ps.Broker, ps.Errors)
		}
	}
	printDurability(tw, r)
}

func printE2E(tw io.Writer, broker string, p e2ePhase) {
	lag := "-"
	if p.SendLagP99US != nil {
		lag = fmt.Sprintf("%.0f µs", *p.SendLagP99US)
	}
	fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%d\t%.0f\t%d\t%d\t%s\t%s\t%s\t%s\t%.1f ms\t%.1f ms\t%.0f µs\t%s\n",
		broker, p.Load, p.Published, p.PublishPerSec, p.Delivered, p.DeliveredPerSec, p.Duplicates, p.Lost,
		latency(p.P50US), latency(p.P90US), latency(p.P99US), lag, p.PubCPUMSPer1k, p.SubCPUMSPer1k, p.LoadgenCPUMSPer1k, mbs(p.SubRSSBytes))
}

// latency prints µs below 10 ms and ms above, so broker polling delays
// read at a glance.
func latency(v float64) string {
	if v >= 10000 {
		return fmt.Sprintf("%.1f ms", v/1000)
	}
	return fmt.Sprintf("%.0f µs", v)
}

func printDurability(tw io.Writer, r *report) {
	for _, ps := range r.Pubsub {
		d := ps.Durability
		if d == nil {
			continue
		}
		fmt.Fprintf(tw, "\nDurability (%s): %d messages published as fast as %d workers can; the subscriber's sidecar is killed with SIGKILL once the app has half of them, and started again at once\n",
			ps.Broker, d.Messages, r.Concurrency)
		fmt.Fprintln(tw, "broker\tpublished\tpublish/s\tkilled at (published/delivered)\trestart (kill → ready)\tdelivered unique\tduplicates\tlost\tall delivered in\tdelivered/s (incl. the kill)")
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%d/%d\t%.0f ms\t%d\t%d\t%d\t%.1f s\t%.0f\n", ps.Broker, d.Published, d.PublishPerSec,
			d.KilledAtPublished, d.KilledAtDelivered, d.RestartMS, d.Delivered, d.Duplicates, d.Lost, d.Seconds, d.DeliveredPerSec)
	}
}

// printDaprPubsub gives Dapr's figures for context. They come from our
// issue; this tool did not measure them.
func printDaprPubsub(tw io.Writer) {
	fmt.Fprintln(tw, "\nDapr's pub/sub figures, from our issue (NOT measured by this run):")
	fmt.Fprintln(tw, "  daprd spends about 400 µs CPU per message; in-memory delivery p50 is about 7 ms, because daprd delivers one message at a time.")
}

// printPubsubErrors lists the first failures of each broker.
func printPubsubErrors(w io.Writer, r *report) {
	for _, ps := range r.Pubsub {
		for _, e := range ps.ErrorSamples {
			fmt.Fprintf(w, "  pubsub/%s: %s\n", ps.Broker, e)
		}
		if extra := ps.Errors - len(ps.ErrorSamples); extra > 0 {
			fmt.Fprintf(w, "  pubsub/%s: … and %d more\n", ps.Broker, extra)
		}
	}
}
