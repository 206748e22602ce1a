package appchannel

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestHealthTransitions feeds probe results one at a time and checks the
// state and the OnChange notifications after each.
func TestHealthTransitions(t *testing.T) {
	errDown := errors.New("down")
	tests := []struct {
		name      string
		threshold int
		results   []error
		healthy   []bool
		events    []bool
	}{
		{
			name:      "starts unhealthy, no event for early failures",
			threshold: 2,
			results:   []error{errDown, errDown, errDown},
			healthy:   []bool{false, false, false},
			events:    nil,
		},
		{
			name:      "first success makes it healthy",
			threshold: 2,
			results:   []error{errDown, nil, nil},
			healthy:   []bool{false, true, true},
			events:    []bool{true},
		},
		{
			name:      "unhealthy only after threshold consecutive failures",
			threshold: 3,
			results:   []error{nil, errDown, errDown, nil, errDown, errDown, errDown, errDown},
			healthy:   []bool{true, true, true, true, true, true, false, false},
			events:    []bool{true, false},
		},
		{
			name:      "recovers on first success",
			threshold: 1,
			results:   []error{nil, errDown, nil, errDown},
			healthy:   []bool{true, false, true, false},
			events:    []bool{true, false, true, false},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var next error
			h := NewProbeHealthChecker(func(context.Context) error { return next }, HealthConfig{Threshold: tc.threshold}, quietLog)
			var events []bool
			h.OnChange(func(healthy bool) {
				// Runs outside the lock: reading the state must not deadlock.
				if h.Healthy() != healthy {
					t.Errorf("callback for %v but Healthy() = %v", healthy, !healthy)
				}
				events = append(events, healthy)
			})
			for i, res := range tc.results {
				next = res
				h.check(context.Background())
				if h.Healthy() != tc.healthy[i] {
					t.Fatalf("after result %d (%v): healthy %v, want %v", i, res, h.Healthy(), tc.healthy[i])
				}
			}
			if len(events) != len(tc.events) {
				t.Fatalf("events %v, want %v", events, tc.events)
			}
			for i := range events {
				if events[i] != tc.events[i] {
					t.Fatalf("events %v, want %v", events, tc.events)
				}
			}
		})
	}
}

func TestHealthRunTimeoutAndReady(t *testing.T) {
	var hang atomic.Bool
	hang.Store(true)
	var calls atomic.Int32
	probe := func(ctx context.Context) error {
		calls.Add(1)
		if hang.Load() {
			<-ctx.Done() // a stuck app: the per-probe timeout must cut it off
			return ctx.Err()
		}
		return nil
	}
	h := NewProbeHealthChecker(probe, HealthConfig{Interval: 10 * time.Millisecond, Timeout: 5 * time.Millisecond, Threshold: 1}, quietLog)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	err := h.Ready(short)
	cancelShort()
	if err == nil || h.Healthy() {
		t.Fatalf("Ready while the app hangs: err %v healthy %v", err, h.Healthy())
	}
	if calls.Load() < 2 {
		t.Fatalf("only %d probes in 50ms at a 10ms interval", calls.Load())
	}
	hang.Store(false)
	waitCtx, cancelWait := context.WithTimeout(ctx, 5*time.Second)
	defer cancelWait()
	if err := h.Ready(waitCtx); err != nil || !h.Healthy() {
		t.Fatalf("Ready: %v healthy %v", err, h.Healthy())
	}
}

// waitEvent returns the next OnChange value or fails after a while.
func waitEvent(t *testing.T, events <-chan bool) bool {
	t.Helper()
	select {
	case v := <-events:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("no health transition")
		return false
	}
}

func TestHealthHTTPProbe(t *testing.T) {
	var code atomic.Int32
	code.Store(http.StatusNoContent)
	var sawToken atomic.Bool
	var lastPath atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Dapr-Api-Token") != "" {
			sawToken.Store(true)
		}
		lastPath.Store(r.Method + " " + r.URL.Path)
		w.WriteHeader(int(code.Load()))
	}))
	defer srv.Close()
	ch := newChannelFor(t, srv, Config{AppAPIToken: "app-secret", MaxConcurrency: 1})
	h := NewHealthChecker(ch, HealthConfig{Path: "ready", Interval: 10 * time.Millisecond, Threshold: 2}, quietLog)
	events := make(chan bool, 10)
	h.OnChange(func(healthy bool) { events <- healthy })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	if !waitEvent(t, events) {
		t.Fatal("first transition should be healthy")
	}
	code.Store(http.StatusServiceUnavailable)
	if waitEvent(t, events) {
		t.Fatal("expected unhealthy after 503s")
	}
	code.Store(http.StatusOK)
	if !waitEvent(t, events) {
		t.Fatal("expected healthy again")
	}
	if sawToken.Load() {
		t.Error("health probe carried dapr-api-token")
	}
	if p := lastPath.Load(); p != "GET /ready" {
		t.Errorf("probe request %v", p)
	}
}

func TestHealthGRPCProbe(t *testing.T) {
	app := &grpcApp{}
	ch := startGRPCApp(t, app, nil, Config{})
	h := NewHealthChecker(ch, HealthConfig{Interval: 10 * time.Millisecond, Threshold: 1}, quietLog)
	events := make(chan bool, 10)
	h.OnChange(func(healthy bool) { events <- healthy })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	if !waitEvent(t, events) {
		t.Fatal("first transition should be healthy")
	}
	app.unhealthy.Store(true)
	if waitEvent(t, events) {
		t.Fatal("expected unhealthy when HealthCheck fails")
	}
}

func TestHealthConfigDefaults(t *testing.T) {
	tests := []struct {
		in   HealthConfig
		want HealthConfig
	}{
		{HealthConfig{}, HealthConfig{Path: "/healthz", Interval: 5 * time.Second, Timeout: 500 * time.Millisecond, Threshold: 3}},
		{HealthConfig{Path: "up", Interval: time.Second, Timeout: time.Millisecond, Threshold: 1},
			HealthConfig{Path: "/up", Interval: time.Second, Timeout: time.Millisecond, Threshold: 1}},
	}
	for _, tc := range tests {
		if got := tc.in.withDefaults(); got != tc.want {
			t.Errorf("withDefaults(%+v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}
