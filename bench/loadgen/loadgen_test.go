package main

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    time.Duration
		wantErr bool
	}{
		{"plain", "1234 (outrigger) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 100 0 0",
			3 * time.Second, false},
		{"comm with spaces and parens", "99 (a (b) c) R 1 1 1 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 0 0",
			100 * time.Millisecond, false},
		{"no comm", "1234 S 1", 0, true},
		{"too short", "1 (x) S 1 2", 0, true},
		{"not a number", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 a 3 0", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tt.line))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name    string
		status  string
		want    memInfo
		wantErr bool
	}{
		{"both", "Name:\tx\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t9\n",
			memInfo{rss: 10240 << 10, hwm: 20480 << 10}, false},
		{"missing hwm", "VmRSS:\t 1 kB\n", memInfo{rss: 1024}, true},
		{"bad unit", "VmRSS:\t 1 MB\nVmHWM:\t 1 kB\n", memInfo{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatus([]byte(tt.status))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestProcOfSelf(t *testing.T) {
	// Burn a little CPU so the tick counter has moved.
	deadline := time.Now().Add(30 * time.Millisecond)
	for time.Now().Before(deadline) {
	}
	cpu, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if cpu <= 0 {
		t.Errorf("procCPU = %v, want > 0", cpu)
	}
	m, err := procMem(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.rss <= 0 || m.hwm < m.rss {
		t.Errorf("procMem = %+v, want 0 < rss <= hwm", m)
	}
}

func TestParseHeapInuse(t *testing.T) {
	tests := []struct {
		name    string
		profile string
		want    int64
		wantErr bool
	}{
		{"present", "heap profile: 1: 2 [3: 4] @ heap/1048576\n\n# runtime.MemStats\n# Alloc = 5\n# HeapInuse = 4194304\n# HeapReleased = 0\n",
			4194304, false},
		{"absent", "heap profile: 1: 2 [3: 4] @ heap/1048576\n", 0, true},
		{"garbage", "# HeapInuse = lots\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseHeapInuse(strings.NewReader(tt.profile))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	var hundred []time.Duration
	for i := 1; i <= 100; i++ {
		hundred = append(hundred, time.Duration(i))
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", []time.Duration{7}, 0.99, 7},
		{"p50 of 100", hundred, 0.50, 50},
		{"p90 of 100", hundred, 0.90, 90},
		{"p99 of 100", hundred, 0.99, 99},
		{"p0", hundred, 0, 1},
		{"p100", hundred, 1, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.q); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{9}, 9},
	}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		value    float64
		measured bool
		want     string
	}{
		{"under", 30, true, "PASS"},
		{"equal", 35, true, "PASS"},
		{"over", 35.1, true, "MISS"},
		{"not measured", 0, false, "n/a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := check("x", tt.value, 35, "µs", tt.measured).Result; got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestCheckTargetsOnlyInMemoryHTTP(t *testing.T) {
	r := &report{BinaryBytes: 50e6, Cases: []caseResult{
		{Name: "memory/http/get", Store: "memory", Transport: "http", Op: "get", phaseFigures: phaseFigures{Ops: 10}, SidecarCPUUSPerOp: 30},
		{Name: "memory/http/save", Store: "memory", Transport: "http", Op: "save", phaseFigures: phaseFigures{Ops: 10}, SidecarCPUUSPerOp: 50},
		{Name: "memory/grpc/get", Store: "memory", Transport: "grpc", Op: "get", phaseFigures: phaseFigures{Ops: 10}, SidecarCPUUSPerOp: 99},
		{Name: "sqlite/http/get", Store: "sqlite", Transport: "http", Op: "get", phaseFigures: phaseFigures{Ops: 10}, SidecarCPUUSPerOp: 99},
	}}
	got := map[string]string{}
	for _, c := range checkTargets(r) {
		got[c.Figure] = c.Result
	}
	want := map[string]string{
		"binary size":                       "MISS",
		"sidecar CPU/op (memory/http/get)":  "PASS",
		"sidecar CPU/op (memory/http/save)": "MISS",
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

func TestPayload(t *testing.T) {
	p := newPayload()
	if len(p.keys) != keyPool || len(p.values) != keyPool {
		t.Fatalf("got %d keys, %d values", len(p.keys), len(p.values))
	}
	for i, v := range p.values {
		if len(v) != valueSize {
			t.Fatalf("value %d has %d bytes, want %d", i, len(v), valueSize)
		}
		if !json.Valid(v) {
			t.Fatalf("value %d is not JSON: %s", i, v)
		}
	}
	h := newHTTPState(1, p)
	var items []map[string]any
	if err := json.Unmarshal(h.bodies[7], &items); err != nil || len(items) != 1 || items[0]["key"] != p.keys[7] {
		t.Fatalf("save body %s: items %v, err %v", h.bodies[7], items, err)
	}
}

func TestDrive(t *testing.T) {
	var calls atomic.Int64
	seen := make([]atomic.Int64, keyPool)
	op := func(_ context.Context, k int) error {
		calls.Add(1)
		seen[k].Add(1)
		if k%100 == 0 {
			return errors.New("boom")
		}
		return nil
	}
	p := drive(context.Background(), 2*keyPool, 7, op, everyKey)
	if calls.Load() != 2*keyPool || len(p.latencies) != 2*keyPool {
		t.Fatalf("calls %d, latencies %d, want %d", calls.Load(), len(p.latencies), 2*keyPool)
	}
	for k := range seen {
		if n := seen[k].Load(); n != 2 {
			t.Fatalf("key %d used %d times, want 2", k, n)
		}
	}
	if p.errs.count != 20 || len(p.errs.samples) != maxErrorSamples {
		t.Errorf("errors %d (samples %d), want 20 (%d)", p.errs.count, len(p.errs.samples), maxErrorSamples)
	}
}

func TestDriveStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int64
	op := func(context.Context, int) error {
		if calls.Add(1) == 10 {
			cancel()
		}
		return nil
	}
	p := drive(ctx, 1_000_000, 4, op, randomKey)
	if calls.Load() >= 1000 {
		t.Errorf("drive kept going after cancel: %d calls", calls.Load())
	}
	if p.errs.count == 0 {
		t.Error("an interrupted phase must count as an error")
	}
}

func TestRandomKeyInPool(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 10000 {
		if k := randomKey(i, rng); k < 0 || k >= keyPool {
			t.Fatalf("key %d outside pool", k)
		}
	}
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 8}
	b.Write([]byte("hello "))
	b.Write([]byte("world"))
	if got := b.String(); got != "lo world" {
		t.Errorf("got %q, want %q", got, "lo world")
	}
	if got := (&tailBuffer{max: 8}).String(); got != "(no output)" {
		t.Errorf("empty buffer: %q", got)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{"defaults", nil, false},
		{"all", []string{"-bin", "x", "-ops", "10", "-concurrency", "2", "-cases", "memory/http", "-json"}, false},
		{"bad regexp", []string{"-cases", "("}, true},
		{"zero ops", []string{"-ops", "0"}, true},
		{"stray arg", []string{"extra"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFlags(tt.args)
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestSelectCases(t *testing.T) {
	cfg, err := parseFlags([]string{"-cases", "^memory/http/"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range selectCases(cfg.cases) {
		names = append(names, c.name())
	}
	if got := strings.Join(names, ","); got != "memory/http/save,memory/http/get" {
		t.Errorf("got %s", got)
	}
	all, _ := parseFlags(nil)
	if n := len(selectCases(all.cases)); n != 8 {
		t.Errorf("default selects %d cases, want 8", n)
	}
}
