package main

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestRoundOrder(t *testing.T) {
	tests := []struct {
		n, round int
		want     []int
	}{
		{n: 3, round: 0, want: []int{0, 1, 2}},
		{n: 3, round: 1, want: []int{2, 1, 0}},
		{n: 3, round: 2, want: []int{0, 1, 2}},
		{n: 1, round: 1, want: []int{0}},
		{n: 0, round: 0, want: []int{}},
	}
	for _, tt := range tests {
		if got := roundOrder(tt.n, tt.round); !slices.Equal(got, tt.want) {
			t.Errorf("roundOrder(%d, %d) = %v, want %v", tt.n, tt.round, got, tt.want)
		}
	}
}

// Over two rounds every variant runs once in each half of the sequence, so
// a steady drift adds the same to every variant's sum of positions.
func TestRoundOrderBalancesPositions(t *testing.T) {
	const n = 6
	sum := make([]int, n)
	for r := range 2 {
		for pos, v := range roundOrder(n, r) {
			sum[v] += pos
		}
	}
	for v, s := range sum {
		if s != n-1 {
			t.Errorf("variant %d: positions sum to %d, want %d", v, s, n-1)
		}
	}
}

func cpuRuns(cpu ...float64) []overheadRun {
	out := make([]overheadRun, len(cpu))
	for i, c := range cpu {
		out[i] = overheadRun{Requests: 1000, RequestsPerSec: 1000 * c, P50US: c, P99US: 10 * c, SidecarCPUMSPer1k: c}
	}
	return out
}

func TestSummarizeOverhead(t *testing.T) {
	res := []overheadResult{
		{Variant: overheadBaseline, Runs: cpuRuns(52, 50, 60)},
		{Variant: "metrics", Runs: cpuRuns(56, 54, 100)},
		{Variant: "tracing-0"}, // every run failed
	}
	summarizeOverhead(res)
	if got := res[0]; got.SidecarCPUMSPer1k != 52 || got.CPURatio != 1 || got.RequestsPerSec != 52000 || got.P99US != 520 {
		t.Errorf("baseline = %+v", got)
	}
	if got := res[1]; got.SidecarCPUMSPer1k != 56 || got.CPURatio != 56.0/52 {
		t.Errorf("metrics: cpu %v ratio %v, want 56 and %v", got.SidecarCPUMSPer1k, got.CPURatio, 56.0/52)
	}
	if got := res[2]; got.CPURatio != 0 || got.SidecarCPUMSPer1k != 0 {
		t.Errorf("failed variant has figures: %+v", got)
	}
}

func TestSummarizeOverheadWithoutBaseline(t *testing.T) {
	res := []overheadResult{{Variant: overheadBaseline}, {Variant: "metrics", Runs: cpuRuns(40)}}
	summarizeOverhead(res)
	if res[1].SidecarCPUMSPer1k != 40 || res[1].CPURatio != 0 {
		t.Errorf("metrics = %+v, want cpu 40 and no ratio", res[1])
	}
}

func TestOverheadTargets(t *testing.T) {
	r := &report{Overhead: []overheadResult{
		{Load: "overhead/state-get", Variant: overheadBaseline, CPURatio: 1},
		{Load: "overhead/state-get", Variant: "metrics", CPURatio: 1.05},
		{Load: "overhead/state-get", Variant: "tracing-0", CPURatio: 1.25},
		{Load: "overhead/state-get", Variant: "tracing-1", CPURatio: 2},
		{Load: "overhead/state-get", Variant: "resiliency"}, // not measured
	}}
	got := overheadTargets(r)
	want := []struct {
		figure string
		value  float64
		result string
	}{
		{"metrics on: sidecar CPU/1k req over baseline (overhead/state-get)", 5, "PASS"},
		{"tracing at sampling 0: sidecar CPU/1k req over baseline (overhead/state-get)", 25, "MISS"},
		{"resiliency policy: sidecar CPU/1k req over baseline (overhead/state-get)", -100, "n/a"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d targets, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Figure != w.figure || g.Result != w.result || g.Limit != targetOverheadPct || g.Unit != "%" ||
			strconv.FormatFloat(g.Value, 'f', 6, 64) != strconv.FormatFloat(w.value, 'f', 6, 64) {
			t.Errorf("target %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestPrintOverhead(t *testing.T) {
	r := &report{Warmup: 100, Concurrency: 4, OverheadLoadSeconds: 1.5, OverheadRounds: 3, Overhead: []overheadResult{
		{Load: "overhead/state-get", Variant: overheadBaseline, Runs: cpuRuns(60, 50), RequestsPerSec: 9000,
			P50US: 1200, P99US: 6000, SidecarCPUMSPer1k: 55, CPURatio: 1},
		{Load: "overhead/state-get", Variant: "tracing-1", Runs: cpuRuns(80), RequestsPerSec: 7000,
			P50US: 1600, P99US: 9000, SidecarCPUMSPer1k: 80, CPURatio: 80.0 / 55, TraceExports: 12},
		{Load: "overhead/state-get", Variant: "metrics", Errors: 2},
	}}
	var b bytes.Buffer
	printOverhead(&b, r)
	out := b.String()
	for _, want := range []string{
		"1.5s; 3 rounds",
		"overhead/state-get\tbaseline\t9000\t1200 µs\t6000 µs\t55.0 ms\t1.00×\t50.0 60.0\t0\t0\n",
		"overhead/state-get\ttracing-1\t7000\t1600 µs\t9000 µs\t80.0 ms\t1.45×\t80.0\t12\t0\n",
		"overhead/state-get\tmetrics\tfailed (2 errors)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestTracingConfig(t *testing.T) {
	var c struct {
		Kind string
		Spec struct {
			Tracing struct {
				SamplingRate string `json:"samplingRate"`
				Otel         struct {
					EndpointAddress string `json:"endpointAddress"`
					IsSecure        *bool  `json:"isSecure"`
					Protocol        string
				}
			}
		}
	}
	if err := yaml.Unmarshal([]byte(tracingConfig("0", 4318)), &c); err != nil {
		t.Fatal(err)
	}
	tr := c.Spec.Tracing
	if c.Kind != "Configuration" || tr.SamplingRate != "0" || tr.Otel.EndpointAddress != "127.0.0.1:4318" ||
		tr.Otel.IsSecure == nil || *tr.Otel.IsSecure || tr.Otel.Protocol != "http" {
		t.Errorf("config = %+v", c)
	}
}

func TestResiliencyYAML(t *testing.T) {
	type target struct{ Timeout, Retry string }
	var r struct {
		Kind string
		Spec struct {
			Policies struct {
				Timeouts map[string]string
				Retries  map[string]struct {
					Policy     string
					MaxRetries int `json:"maxRetries"`
				}
			}
			Targets struct {
				Apps       map[string]target
				Components map[string]struct{ Outbound target }
			}
		}
	}
	if err := yaml.Unmarshal([]byte(resiliencyYAML()), &r); err != nil {
		t.Fatal(err)
	}
	out := r.Spec.Targets.Components[storeName].Outbound
	retry := r.Spec.Policies.Retries[out.Retry]
	if r.Kind != "Resiliency" || retry.Policy != "constant" || retry.MaxRetries != 3 || r.Spec.Policies.Timeouts[out.Timeout] != "5s" {
		t.Errorf("store target %+v, policies %+v", out, r.Spec.Policies)
	}
	if r.Spec.Targets.Apps[overheadAppID] != out {
		t.Errorf("app target %+v, want %+v", r.Spec.Targets.Apps[overheadAppID], out)
	}
}

func TestOverheadSidecarOpts(t *testing.T) {
	base := overheadSidecarOpts(overheadVariants[0], 1)
	if base.config != "" || base.files != nil || !slices.Contains(base.args, "--enable-metrics=false") || base.store.typ != "state.in-memory" {
		t.Errorf("baseline opts = %+v", base)
	}
	all := overheadSidecarOpts(overheadVariant{metrics: true, sampling: "0", resiliency: true}, 1)
	if all.config == "" || all.files["resiliency.yaml"] == "" || !slices.Contains(all.args, "--enable-metrics=true") {
		t.Errorf("all-on opts = %+v", all)
	}
}

func TestTraceSink(t *testing.T) {
	s, err := startTraceSink()
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	base := "http://127.0.0.1:" + strconv.Itoa(s.port)
	resp, err := http.Post(base+"/v1/traces", "application/x-protobuf", strings.NewReader("spans"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || s.exports.Load() != 1 {
		t.Errorf("POST /v1/traces: status %d, exports %d; want 200 and 1", resp.StatusCode, s.exports.Load())
	}
	resp, err = http.Post(base+"/v1/metrics", "application/x-protobuf", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || s.exports.Load() != 1 {
		t.Errorf("POST /v1/metrics: status %d, exports %d; want 404 and still 1", resp.StatusCode, s.exports.Load())
	}
}

func TestParseOverheadFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{"suite overhead", []string{"-suite", "overhead", "-overhead-load", "1s", "-overhead-rounds", "5"}, false},
		{"load too short", []string{"-suite", "overhead", "-overhead-load", "1ms"}, true},
		{"no rounds", []string{"-suite", "overhead", "-overhead-rounds", "0"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseFlags(tt.args)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && (!cfg.runs("overhead") || cfg.runs("state") || cfg.overheadRounds != 5) {
				t.Errorf("runs overhead %v, state %v, rounds %d", cfg.runs("overhead"), cfg.runs("state"), cfg.overheadRounds)
			}
		})
	}
	cfg, err := parseFlags(nil)
	if err != nil || !cfg.runs("overhead") || cfg.overheadRounds != 3 {
		t.Errorf("defaults: err %v, runs overhead %v, rounds %d", err, cfg.runs("overhead"), cfg.overheadRounds)
	}
}
