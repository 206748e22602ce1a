//go:build unix

package runner

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/options"
	"github.com/outrigger/outrigger/internal/testutil"
)

// fakeSidecar blocks until its context is cancelled, or fails with failWith
// after failAfter.
type fakeSidecar struct {
	failWith  error
	failAfter time.Duration
	cancelled atomic.Bool
	started   chan struct{}
}

func newFake() *fakeSidecar { return &fakeSidecar{started: make(chan struct{})} }

func (f *fakeSidecar) run(ctx context.Context, _ options.Options, _ *slog.Logger) error {
	close(f.started)
	if f.failWith != nil {
		time.Sleep(f.failAfter)
		return f.failWith
	}
	<-ctx.Done()
	f.cancelled.Store(true)
	return nil
}

func testRunner(f *fakeSidecar, script string) (*Runner, *testutil.SyncBuffer) {
	out := &testutil.SyncBuffer{}
	r := &Runner{
		Sidecar: f.run,
		Options: options.Options{AppID: "myapp", AppPort: 3001, AppProtocol: "http", HTTPPort: 3601, GRPCPort: 50011, MetricsPort: 9191},
		Stdout:  out,
		Stderr:  out,
		Grace:   2 * time.Second,
	}
	if script != "" {
		r.Command = []string{"sh", "-c", script}
	}
	return r, out
}

func TestAppExitStopsSidecarAndPropagatesCode(t *testing.T) {
	f := newFake()
	r, _ := testRunner(f, "exit 7")
	code, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if code != 7 {
		t.Errorf("exit code = %d, want 7", code)
	}
	if !f.cancelled.Load() {
		t.Error("sidecar context was not cancelled after the app exited")
	}
}

func TestSignalTerminatesApp(t *testing.T) {
	f := newFake()
	r, out := testRunner(f, `trap 'echo got-TERM; exit 0' TERM; echo ready; while :; do sleep 0.05; done`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		waitFor(t, out, "ready")
		cancel() // what the CLI does on SIGINT/SIGTERM
	}()
	code, err := r.Run(ctx)
	if err != nil || code != 0 {
		t.Fatalf("Run = %d, %v; want 0, nil", code, err)
	}
	if !strings.Contains(out.String(), AppPrefix+"got-TERM\n") {
		t.Errorf("app did not report SIGTERM; output:\n%s", out)
	}
	if !f.cancelled.Load() {
		t.Error("sidecar context was not cancelled")
	}
}

func TestAppIgnoringTermIsKilledAfterGrace(t *testing.T) {
	f := newFake()
	r, out := testRunner(f, `trap '' TERM; echo ready; while :; do sleep 0.05; done`)
	r.Grace = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		waitFor(t, out, "ready")
		cancel()
	}()
	start := time.Now()
	if _, err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %s; the app should have been killed after the grace period", d)
	}
}

func TestSidecarFailureKillsApp(t *testing.T) {
	f := newFake()
	f.failWith = errors.New("port in use")
	f.failAfter = 50 * time.Millisecond
	r, _ := testRunner(f, "sleep 30")
	start := time.Now()
	code, err := r.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "port in use") {
		t.Fatalf("err = %v, want the sidecar's error", err)
	}
	if code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %s; the app should have been stopped", d)
	}
}

func TestAppStartFailureStopsSidecar(t *testing.T) {
	f := newFake()
	r, _ := testRunner(f, "")
	r.Command = []string{"/nonexistent/outrigger-test-app"}
	code, err := r.Run(context.Background())
	if err == nil || code != 1 {
		t.Fatalf("Run = %d, %v; want 1 and an error", code, err)
	}
	<-f.started
	if !f.cancelled.Load() {
		t.Error("sidecar context was not cancelled")
	}
}

func TestSidecarOnly(t *testing.T) {
	f := newFake()
	r, _ := testRunner(f, "")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-f.started
		cancel()
	}()
	code, err := r.Run(ctx)
	if err != nil || code != 0 {
		t.Fatalf("Run = %d, %v; want 0, nil", code, err)
	}
	if !f.cancelled.Load() {
		t.Error("sidecar context was not cancelled")
	}
}

func TestAppEnvironment(t *testing.T) {
	f := newFake()
	r, out := testRunner(f, `echo "$APP_ID $APP_PORT $APP_PROTOCOL $DAPR_HTTP_PORT $DAPR_GRPC_PORT $DAPR_METRICS_PORT $KEEP"; echo oops >&2`)
	r.Env = []string{"KEEP=parent", "DAPR_HTTP_PORT=1"}
	if code, err := r.Run(context.Background()); err != nil || code != 0 {
		t.Fatalf("Run = %d, %v", code, err)
	}
	got := out.String()
	for _, want := range []string{AppPrefix + "myapp 3001 http 3601 50011 9191 parent\n", AppPrefix + "oops\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output %q lacks %q", got, want)
		}
	}
}

func TestPrefixWriter(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"whole lines", []string{"a\nb\n"}, "P a\nP b\n"},
		{"split across writes", []string{"hel", "lo\nwor", "ld\n"}, "P hello\nP world\n"},
		{"empty line", []string{"\n\n"}, "P \nP \n"},
		{"unterminated tail flushed", []string{"x\ny"}, "P x\nP y\n"},
		{"byte by byte", strings.Split("ab\ncd\n", ""), "P ab\nP cd\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sb strings.Builder
			w := NewPrefixWriter(&sb, "P ")
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); err != nil || n != len(s) {
					t.Fatalf("Write(%q) = %d, %v", s, n, err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if sb.String() != tt.want {
				t.Errorf("got %q, want %q", sb.String(), tt.want)
			}
		})
	}
}

func TestPrefixWriterLongPartialLine(t *testing.T) {
	var sb strings.Builder
	w := NewPrefixWriter(&sb, "P ")
	long := strings.Repeat("x", maxPartialLine)
	if _, err := w.Write([]byte(long)); err != nil {
		t.Fatal(err)
	}
	if sb.String() != "P "+long+"\n" {
		t.Errorf("a %d-byte partial line was not emitted", len(long))
	}
}

func TestPickPort(t *testing.T) {
	busy, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port

	got, err := PickPort(busyPort)
	if err != nil || got == busyPort || got <= 0 {
		t.Errorf("PickPort(busy %d) = %d, %v; want another port", busyPort, got, err)
	}

	free, err := PickPort(0)
	if err != nil || free <= 0 {
		t.Fatalf("PickPort(0) = %d, %v", free, err)
	}
	if got, err := PickPort(free); err != nil || got != free {
		t.Errorf("PickPort(free %d) = %d, %v; want the same port", free, got, err)
	}
	if got, err := PickPort(free, free); err != nil || got == free {
		t.Errorf("PickPort(%d, avoid %d) = %d, %v; want another port", free, free, got, err)
	}
}

func TestWaitOutbound(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1.0/healthz/outbound" || calls.Add(1) < 3 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port

	var out strings.Builder
	if !WaitOutbound(context.Background(), port, 5*time.Second, &out) {
		t.Fatalf("not ready; output:\n%s", out.String())
	}
	if calls.Load() < 3 {
		t.Errorf("ready after %d calls, want 3", calls.Load())
	}

	srv.Close()
	if WaitOutbound(context.Background(), port, 300*time.Millisecond, &out) {
		t.Error("ready with the server gone")
	}
}

// waitFor polls out until it contains s (the app printed it) or 5s pass.
func waitFor(t *testing.T, out *testutil.SyncBuffer, s string) {
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), s) {
		if time.Now().After(deadline) {
			t.Errorf("app never printed %q; output:\n%s", s, out)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestKill(t *testing.T) {
	f := newFake()
	r, out := testRunner(f, `trap '' TERM; echo ready; while :; do sleep 0.05; done`)
	r.Grace = time.Minute // only Kill can end the app quickly
	done := make(chan int, 1)
	go func() {
		code, _ := r.Run(context.Background())
		done <- code
	}()
	waitFor(t, out, "ready")
	r.Kill()
	select {
	case code := <-done:
		if code != 128+9 {
			t.Errorf("exit code = %d, want %d (SIGKILL)", code, 128+9)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Kill did not end the app")
	}
}
