// Package runner is the `outrigger run` supervisor: it runs a sidecar in
// process next to the application, started as a child process, and stops
// both together.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/outrigger/outrigger/internal/options"
)

// SidecarFunc runs a sidecar until ctx is cancelled (or it is asked to shut
// down) and returns nil after a clean shutdown; an error means it failed.
// sidecar.Run has this signature; tests pass a fake.
type SidecarFunc func(ctx context.Context, opts options.Options, log *slog.Logger) error

// Runner runs one sidecar and, optionally, one app command.
type Runner struct {
	Sidecar SidecarFunc
	Options options.Options
	Logger  *slog.Logger // for the sidecar and the runner's own messages
	Command []string     // app command and arguments; empty = sidecar only
	Env     []string     // app's base environment; nil = os.Environ()
	Stdout  io.Writer    // app stdout, prefixed; nil = os.Stdout
	Stderr  io.Writer    // app stderr, prefixed; nil = os.Stderr
	Grace   time.Duration

	mu     sync.Mutex
	app    *appProcess // the running app, for Kill
	killed bool        // Kill was called, maybe before the app started
}

// AppPrefix marks app output lines, as `dapr run` does.
const AppPrefix = "== APP == "

// Run starts the sidecar and the app and waits until one of them ends or ctx
// is cancelled (a signal), then stops the other. It returns the exit code for
// the whole run: the app's if the app exited by itself, otherwise 0, or 1
// with an error when the sidecar or the app failed to run.
func (r *Runner) Run(ctx context.Context) (int, error) {
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sidecarCtx, stopSidecar := context.WithCancel(ctx)
	defer stopSidecar()
	sidecarDone := make(chan error, 1)
	go func() { sidecarDone <- r.Sidecar(sidecarCtx, r.Options, log) }()

	if len(r.Command) == 0 {
		return r.sidecarOnly(ctx, stopSidecar, sidecarDone)
	}

	app, err := r.startApp()
	if err != nil {
		stopSidecar()
		<-sidecarDone
		return 1, err
	}
	r.mu.Lock()
	r.app = app
	killed := r.killed
	r.mu.Unlock()
	if killed {
		_ = killGroup(app.cmd)
	}
	log.Info("App started", "pid", app.cmd.Process.Pid, "command", r.Command)

	select {
	case <-ctx.Done():
		log.Info("Stopping app and sidecar")
		stopSidecar()
		app.stop(r.grace())
		return 0, sidecarError(<-sidecarDone)
	case <-app.done:
		log.Info("App exited; stopping sidecar", "code", app.code)
		stopSidecar()
		return app.code, sidecarError(<-sidecarDone)
	case err := <-sidecarDone:
		// A failed start or a shutdown requested through the API: the app
		// has nothing left to talk to.
		log.Info("Sidecar stopped; stopping app")
		app.stop(r.grace())
		if err != nil {
			return 1, sidecarError(err)
		}
		return 0, nil
	}
}

// Kill kills the app's process group at once. The CLI calls it before
// exiting on a second Ctrl-C: the app runs in its own process group, so it
// would otherwise outlive us.
func (r *Runner) Kill() {
	r.mu.Lock()
	r.killed = true
	app := r.app
	r.mu.Unlock()
	if app != nil {
		_ = killGroup(app.cmd)
	}
}

func (r *Runner) sidecarOnly(ctx context.Context, stop context.CancelFunc, done <-chan error) (int, error) {
	select {
	case <-ctx.Done():
		stop()
		if err := <-done; err != nil {
			return 1, sidecarError(err)
		}
		return 0, nil
	case err := <-done:
		if err != nil {
			return 1, sidecarError(err)
		}
		return 0, nil
	}
}

func sidecarError(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sidecar: %w", err)
}

func (r *Runner) grace() time.Duration {
	if r.Grace > 0 {
		return r.Grace
	}
	if r.Options.GracefulShutdown > 0 {
		return r.Options.GracefulShutdown
	}
	return 5 * time.Second
}

// appProcess is a started app; done is closed once it has exited and code
// is set.
type appProcess struct {
	cmd  *exec.Cmd
	done chan struct{}
	code int
}

func (r *Runner) startApp() (*appProcess, error) {
	cmd := exec.Command(r.Command[0], r.Command[1:]...)
	base := r.Env
	if base == nil {
		base = os.Environ()
	}
	// Later entries win in exec, so ours override inherited ones.
	cmd.Env = append(append([]string(nil), base...), AppEnv(r.Options)...)
	stdout := NewPrefixWriter(orDefault(r.Stdout, os.Stdout), AppPrefix)
	stderr := NewPrefixWriter(orDefault(r.Stderr, os.Stderr), AppPrefix)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// A grandchild that keeps the output pipes open must not hang Wait.
	cmd.WaitDelay = r.grace()
	newProcessGroup(cmd)

	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start app %q: %w", r.Command[0], err)
	}
	app := &appProcess{cmd: cmd, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		_ = stdout.Flush()
		_ = stderr.Flush()
		app.code = exitCode(err)
		close(app.done)
	}()
	return app, nil
}

// stop asks the app's process group to terminate and kills it if it is
// still running after grace.
func (a *appProcess) stop(grace time.Duration) {
	select {
	case <-a.done:
		return
	default:
	}
	if err := terminateGroup(a.cmd); err != nil && !errors.Is(err, os.ErrProcessDone) {
		_ = killGroup(a.cmd)
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-a.done:
	case <-timer.C:
		_ = killGroup(a.cmd)
		<-a.done
	}
}

func orDefault(w, def io.Writer) io.Writer {
	if w == nil {
		return def
	}
	return w
}
