package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

func TestParseInvokeFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{"suite state", []string{"-suite", "state"}, false},
		{"suite invoke", []string{"-suite", "invoke", "-rate", "200", "-duration", "1s", "-closed-duration", "1s", "-rounds", "2", "-stream-mib", "5"}, false},
		{"suite pubsub", []string{"-suite", "pubsub", "-pubsub-load", "1s", "-pubsub-durable-n", "100"}, false},
		{"unknown suite", []string{"-suite", "bindings"}, true},
		{"pubsub load too short", []string{"-pubsub-load", "1ms"}, true},
		{"zero rate", []string{"-rate", "0"}, true},
		{"zero rounds", []string{"-rounds", "0"}, true},
		{"duration shorter than one request per round", []string{"-rate", "1", "-rounds", "5", "-duration", "2s"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFlags(tt.args)
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
	cfg, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.runs("state") || !cfg.runs("invoke") || cfg.rate != 1000 || cfg.duration != 10*time.Second {
		t.Errorf("defaults: %+v", cfg)
	}
}

func TestPaceHoldsRate(t *testing.T) {
	var calls atomic.Int64
	op := func(context.Context, int) error {
		if calls.Add(1)%50 == 0 {
			return errors.New("boom")
		}
		return nil
	}
	p := pace(context.Background(), 500, 200*time.Millisecond, op)
	if calls.Load() != 100 || len(p.latencies) != 100 || len(p.lags) != 100 {
		t.Fatalf("calls %d, latencies %d, lags %d, want 100", calls.Load(), len(p.latencies), len(p.lags))
	}
	// The last request is due at 198 ms: an open loop cannot finish sooner.
	if p.elapsed < 198*time.Millisecond {
		t.Errorf("elapsed %v: the schedule was not followed", p.elapsed)
	}
	if p.errs.count != 2 {
		t.Errorf("errors %d, want 2", p.errs.count)
	}
}

func TestPaceDoesNotWaitForSlowResponses(t *testing.T) {
	// Each call takes 20 ms; at 200 req/s a closed loop of one would take
	// 400 ms for 20 calls, the open loop about 100 ms.
	op := func(context.Context, int) error {
		time.Sleep(20 * time.Millisecond)
		return nil
	}
	p := pace(context.Background(), 200, 100*time.Millisecond, op)
	if len(p.latencies) != 20 {
		t.Fatalf("latencies %d, want 20", len(p.latencies))
	}
	if p.elapsed > 300*time.Millisecond {
		t.Errorf("elapsed %v: sends waited for responses", p.elapsed)
	}
}

func TestDriveForStopsAtDeadline(t *testing.T) {
	var calls atomic.Int64
	op := func(context.Context, int) error {
		calls.Add(1)
		time.Sleep(time.Millisecond)
		return nil
	}
	p := driveFor(context.Background(), 100*time.Millisecond, 4, op)
	if n := calls.Load(); n < 4 || int(n) != len(p.latencies) {
		t.Fatalf("calls %d, latencies %d", n, len(p.latencies))
	}
	if p.elapsed < 100*time.Millisecond || p.elapsed > time.Second {
		t.Errorf("elapsed %v, want just over 100ms", p.elapsed)
	}
	if p.errs.count != 0 {
		t.Errorf("errors %d", p.errs.count)
	}
}

func TestPatternReader(t *testing.T) {
	for _, n := range []int64{0, 1, 32 << 10, 100_000} {
		b, err := io.ReadAll(newPatternReader(n))
		if err != nil || int64(len(b)) != n {
			t.Fatalf("n=%d: read %d bytes, err %v", n, len(b), err)
		}
		if n > 30 && !bytes.Equal(b[26:30], []byte("abcd")) {
			t.Errorf("n=%d: pattern %q", n, b[:30])
		}
	}
}

// fakeSidecar serves the echo app's methods under the invoke path, so the
// invoke clients can be checked without a sidecar.
func fakeSidecar(t *testing.T) int {
	t.Helper()
	srv := httptest.NewServer(http.StripPrefix("/v1.0/invoke/"+targetAppID+"/method", echoMux()))
	t.Cleanup(srv.Close)
	_, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "http://"), ":")
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEchoAppOverHTTP(t *testing.T) {
	app, err := startEchoApp()
	if err != nil {
		t.Fatal(err)
	}
	defer app.close()
	ctx := context.Background()
	for name, c := range map[string]*httpEcho{
		"direct":       newHTTPEcho(app.httpPort, ""),
		"invoke paths": newHTTPEcho(fakeSidecar(t), targetAppID),
	} {
		if err := c.call(ctx, 0); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		c.close()
	}
	side := fakeSidecar(t)
	if err := upload(ctx, side, 3*mib+7); err != nil {
		t.Errorf("upload: %v", err)
	}
	if err := download(ctx, side, 3*mib+7); err != nil {
		t.Errorf("download: %v", err)
	}
	// A wrong URL must fail the call, not pass silently.
	bad := &httpEcho{client: newKeepAliveClient(), url: "http://127.0.0.1:" + strconv.Itoa(app.httpPort) + "/nope"}
	if err := bad.call(ctx, 0); err == nil {
		t.Error("call to a missing method succeeded")
	}
}

func TestEchoAppOverGRPC(t *testing.T) {
	app, err := startEchoApp()
	if err != nil {
		t.Fatal(err)
	}
	defer app.close()
	direct, err := newGRPCEcho(app.grpcPort, "")
	if err != nil {
		t.Fatal(err)
	}
	defer direct.close()
	if err := direct.call(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	proxied, err := newGRPCEcho(app.grpcPort, targetAppID)
	if err != nil {
		t.Fatal(err)
	}
	defer proxied.close()
	if got := proxied.md.Get("dapr-app-id"); len(got) != 1 || got[0] != targetAppID {
		t.Errorf("dapr-app-id = %v", got)
	}
	// The app ignores the metadata, so the call still echoes.
	if err := proxied.call(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
}

func TestStaticConfig(t *testing.T) {
	var c struct {
		Kind string
		Spec struct {
			NameResolution struct {
				Component     string
				Configuration struct {
					Apps map[string][]string
				}
			} `json:"nameResolution"`
		}
	}
	if err := yaml.Unmarshal([]byte(staticConfig(4321)), &c); err != nil {
		t.Fatal(err)
	}
	nr := c.Spec.NameResolution
	if c.Kind != "Configuration" || nr.Component != "static" {
		t.Errorf("kind %q, component %q", c.Kind, nr.Component)
	}
	if got := nr.Configuration.Apps[targetAppID]; len(got) != 1 || got[0] != "127.0.0.1:4321" {
		t.Errorf("apps = %v", nr.Configuration.Apps)
	}
}

func TestMemGrowth(t *testing.T) {
	tests := []struct {
		name          string
		before, after memInfo
		sampled       int64
		wantPeak      int64
	}{
		{"sampled peak", memInfo{rss: 100, hwm: 150}, memInfo{rss: 110, hwm: 150}, 130, 130},
		{"hwm rose between samples", memInfo{rss: 100, hwm: 150}, memInfo{rss: 110, hwm: 170}, 130, 170},
		{"old hwm ignored", memInfo{rss: 100, hwm: 500}, memInfo{rss: 100, hwm: 500}, 100, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := memGrowth(tt.before, tt.after, tt.sampled)
			if g.PeakRSSBytes != tt.wantPeak || g.GrowthBytes != tt.wantPeak-tt.before.rss {
				t.Errorf("got %+v, want peak %d", g, tt.wantPeak)
			}
		})
	}
}

func TestSampleRSSOfSelf(t *testing.T) {
	s := sampleRSS(time.Millisecond, os.Getpid())
	time.Sleep(5 * time.Millisecond)
	if peak := s.finish(); peak[0] <= 0 {
		t.Errorf("peak %d", peak[0])
	}
}

func TestAddLoad(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	direct := &pathTotals{path: pathDirect, lat: ms(3, 1, 2, 4), lags: ms(0, 0, 0, 1), elapsed: 2 * time.Second}
	ref := &pathTotals{path: pathProxies, lat: ms(4, 4, 5, 6), elapsed: 2 * time.Second,
		cpuA: 8 * time.Millisecond, cpuB: 4 * time.Millisecond}
	proxied := &pathTotals{path: pathSidecars, lat: ms(2, 5, 3, 4), lags: ms(0, 0, 0, 0), elapsed: 2 * time.Second,
		cpuA: 4 * time.Millisecond, cpuB: 2 * time.Millisecond}
	var r invokeResult
	if err := r.addLoad("open 2 req/s", 2, 8, []*pathTotals{direct, ref, proxied}); err != nil {
		t.Fatal(err)
	}
	if len(r.Phases) != 3 || len(r.Added) != 2 {
		t.Fatalf("phases %d, added %d", len(r.Phases), len(r.Added))
	}
	p, ok := r.phase("open 2 req/s", pathSidecars)
	if !ok || p.Requests != 4 || p.ReqPerSec != 2 || p.P50US != 3000 || p.P99US != 5000 {
		t.Errorf("proxied %+v", p)
	}
	// 6 ms of sidecar CPU over 4 requests is 1.5 ms per request.
	if p.bothCPUUSPerReq() != 1500 || p.SidecarACPUMSPer1k != 1000 {
		t.Errorf("cpu: A %v ms/1k, both %v µs/req", p.SidecarACPUMSPer1k, p.bothCPUUSPerReq())
	}
	if a, ok := r.added("open 2 req/s", pathSidecars); !ok || a.P50US != 1000 || a.P99US != 1000 {
		t.Errorf("added by the sidecars %+v", a)
	}
	if a, ok := r.added("open 2 req/s", pathProxies); !ok || a.P50US != 2000 || a.P99US != 2000 {
		t.Errorf("added by the reference proxies %+v", a)
	}
	if r.Phases[0].SendLagP99US == nil || *r.Phases[0].SendLagP99US != 1000 {
		t.Errorf("send lag %v", r.Phases[0].SendLagP99US)
	}
	failed := &pathTotals{path: pathSidecars, err: errors.New("no such process")}
	if err := r.addLoad("closed", 0, 1, []*pathTotals{direct, failed}); err == nil {
		t.Error("a failed /proc reading must fail the load")
	}
}

func TestInvokeTargets(t *testing.T) {
	lagged, calm := 25000.0, 1100.0
	r := &report{InvokeRate: 1000,
		Invoke: []invokeResult{
			{Name: "invoke/http", Phases: []invokePhase{
				{Load: "open 1000 req/s", Path: pathDirect},
				{Load: "open 1000 req/s", Path: pathProxies, SidecarACPUMSPer1k: 500, SidecarBCPUMSPer1k: 500},
				{Load: "open 1000 req/s", Path: pathSidecars, SidecarACPUMSPer1k: 100, SidecarBCPUMSPer1k: 100}},
				Added: []addedDelay{
					{Load: "open 1000 req/s", Path: pathProxies, P50US: 5000, P99US: 5000},
					{Load: "open 1000 req/s", Path: pathSidecars, P50US: 300, P99US: 1200}}},
			{Name: "invoke/grpc", Errors: 1},
			{Name: "invoke/lagged", Phases: []invokePhase{
				{Load: "open 1000 req/s", Path: pathDirect, SendLagP99US: &lagged},
				{Load: "open 1000 req/s", Path: pathSidecars, SidecarACPUMSPer1k: 100, SidecarBCPUMSPer1k: 100}},
				Added: []addedDelay{{Load: "open 1000 req/s", Path: pathSidecars, P50US: 300, P99US: 900}}},
			{Name: "invoke/negative", Phases: []invokePhase{
				{Load: "open 1000 req/s", Path: pathDirect, SendLagP99US: &calm},
				{Load: "open 1000 req/s", Path: pathSidecars, SidecarACPUMSPer1k: 200, SidecarBCPUMSPer1k: 100}},
				Added: []addedDelay{{Load: "open 1000 req/s", Path: pathSidecars, P50US: 300, P99US: -4000}}},
		},
		Streams: []streamResult{{Name: "invoke/stream/upload",
			A: sidecarGrowth{GrowthBytes: 16 * mib}, B: sidecarGrowth{GrowthBytes: 2 * mib}}},
	}
	got := map[string]string{}
	for _, c := range invokeTargets(r) {
		got[c.Figure] = c.Result
	}
	want := map[string]string{
		"invoke/http added p50 at 1000 req/s":       "PASS",
		"invoke/http added p99 at 1000 req/s":       "MISS",
		"invoke/http A+B CPU/request at 1000 req/s": "PASS",
		"invoke/grpc added p50 at 1000 req/s":       "n/a",
		"invoke/grpc added p99 at 1000 req/s":       "n/a",
		"invoke/grpc A+B CPU/request at 1000 req/s": "n/a",
		// loadgen fell 25 ms behind: latency cannot be judged, CPU can.
		"invoke/lagged added p50 at 1000 req/s":       "NOISY",
		"invoke/lagged added p99 at 1000 req/s":       "NOISY",
		"invoke/lagged A+B CPU/request at 1000 req/s": "PASS",
		// less than nothing added is noise between rounds.
		"invoke/negative added p50 at 1000 req/s":       "NOISY",
		"invoke/negative added p99 at 1000 req/s":       "NOISY",
		"invoke/negative A+B CPU/request at 1000 req/s": "MISS",
		"invoke/stream/upload RSS growth of A":          "MISS", // 16 MiB is not below 16 MiB
		"invoke/stream/upload RSS growth of B":          "PASS",
	}
	if len(got) != len(want) {
		t.Fatalf("targets %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestPrintInvokeTable(t *testing.T) {
	lag := 50.0
	r := &report{Suite: "invoke", InvokeRate: 1000, InvokeRounds: 5,
		Invoke: []invokeResult{{Name: "invoke/http", Transport: "http", PayloadBytes: 1024,
			Phases: []invokePhase{
				{Load: "open 1000 req/s", Path: pathDirect, ReqPerSec: 1000, P50US: 100, SendLagP99US: &lag},
				{Load: "open 1000 req/s", Path: pathProxies, ReqPerSec: 1000, P50US: 600, SidecarACPUMSPer1k: 120, SidecarBCPUMSPer1k: 80, SendLagP99US: &lag},
				{Load: "open 1000 req/s", Path: pathSidecars, ReqPerSec: 1000, P50US: 400, SidecarACPUMSPer1k: 90, SidecarBCPUMSPer1k: 60, SendLagP99US: &lag}},
			Added: []addedDelay{
				{Load: "open 1000 req/s", Path: pathProxies, P50US: 500},
				{Load: "open 1000 req/s", Path: pathSidecars, P50US: 300}}}},
	}
	r.Targets = checkTargets(r)
	var b bytes.Buffer
	if err := printTable(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"added (A→B)", "+300 µs", "added (proxies)", "+500 µs", "90.0 ms", "plain Go reverse proxies",
		"sidecars vs reference proxies: A+B CPU 150 vs 200 µs/req (0.75×), added p50 +300 vs +500 µs",
		"from our issue", "NOT measured", "invoke/http added p50 at 1000 req/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Startup:") {
		t.Error("an invoke-only run printed the state suite")
	}
	if strings.Contains(out, "sidecars vs daprd") || !strings.Contains(out, "pass it with -daprd") {
		t.Errorf("a run without -daprd compared with daprd, or did not say how to:\n%s", out)
	}

	// With daprd measured beside them, a second comparison line, and the
	// binary named.
	inv := &r.Invoke[0]
	inv.Phases = append(inv.Phases, invokePhase{Load: "open 1000 req/s", Path: pathDaprd, ReqPerSec: 1000, P50US: 900,
		SidecarACPUMSPer1k: 250, SidecarBCPUMSPer1k: 250, SendLagP99US: &lag})
	inv.Added = append(inv.Added, addedDelay{Load: "open 1000 req/s", Path: pathDaprd, P50US: 800})
	r.Daprd = `/opt/daprd, version "1.9.6"`
	b.Reset()
	if err := printTable(&b, r); err != nil {
		t.Fatal(err)
	}
	out = b.String()
	for _, want := range []string{"added (daprd A→B)", "+800 µs",
		"sidecars vs daprd: A+B CPU 150 vs 500 µs/req (0.30×), added p50 +300 vs +800 µs",
		`two daprd (/opt/daprd, version "1.9.6")`} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// A daprd is started with its flags alone; outrigger with its subcommand.
func TestSidecarArgsDaprd(t *testing.T) {
	for _, daprd := range []bool{false, true} {
		args, _, err := sidecarArgs(t.TempDir(), sidecarOpts{appID: "x", daprd: daprd})
		if err != nil {
			t.Fatal(err)
		}
		if got := args[0] == "sidecar"; got == daprd {
			t.Errorf("daprd %v: args %q", daprd, args)
		}
		if !slices.Contains(args, "--app-id") || !slices.Contains(args, "--resources-path") {
			t.Errorf("daprd %v: common flags missing from %q", daprd, args)
		}
	}
}

func TestFirstLines(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"one", 2, "one"},
		{"a\nb", 2, "a b"},
		{"a\nb\nc\nd", 2, "a b …"},
	}
	for _, tt := range tests {
		if got := firstLines(tt.in, tt.n); got != tt.want {
			t.Errorf("firstLines(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
