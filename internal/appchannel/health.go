package appchannel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// HealthConfig configures app health probing (--app-health-*). Zero values
// take daprd's defaults.
type HealthConfig struct {
	Path      string        // HTTP probe path; default /healthz
	Interval  time.Duration // between probes; default 5s
	Timeout   time.Duration // per probe; default 500ms
	Threshold int           // consecutive failures before unhealthy; default 3
}

func (c HealthConfig) withDefaults() HealthConfig {
	if c.Path == "" {
		c.Path = "/healthz"
	}
	if !strings.HasPrefix(c.Path, "/") {
		c.Path = "/" + c.Path
	}
	if c.Interval <= 0 {
		c.Interval = 5 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 500 * time.Millisecond
	}
	if c.Threshold < 1 {
		c.Threshold = 3
	}
	return c
}

// ProbeFunc checks the app once; nil means healthy.
type ProbeFunc func(ctx context.Context) error

// healthProber is implemented by the channels of this package.
type healthProber interface {
	probeHealth(ctx context.Context, path string) error
}

// Health tracks whether the app is healthy by probing it periodically.
// The app starts out not healthy until the first successful probe.
type Health struct {
	probe ProbeFunc
	cfg   HealthConfig
	log   *slog.Logger

	mu        sync.Mutex
	healthy   bool
	failures  int
	reported  bool // an unhealthy state was already logged
	listeners []func(healthy bool)
	ready     chan struct{} // closed on the first healthy probe
}

// NewHealthChecker probes ch the way daprd does: HTTP GET cfg.Path without
// the app token (2xx = healthy), or gRPC AppCallbackHealthCheck/HealthCheck.
// A channel from elsewhere that cannot be probed is always unhealthy.
func NewHealthChecker(ch Channel, cfg HealthConfig, log *slog.Logger) *Health {
	cfg = cfg.withDefaults()
	probe := func(context.Context) error { return errors.New("app channel does not support health probes") }
	if p, ok := ch.(healthProber); ok {
		probe = func(ctx context.Context) error { return p.probeHealth(ctx, cfg.Path) }
	}
	return NewProbeHealthChecker(probe, cfg, log)
}

// NewProbeHealthChecker tracks health using an arbitrary probe.
func NewProbeHealthChecker(probe ProbeFunc, cfg HealthConfig, log *slog.Logger) *Health {
	if log == nil {
		log = slog.Default()
	}
	return &Health{
		probe: probe,
		cfg:   cfg.withDefaults(),
		log:   log,
		ready: make(chan struct{}),
	}
}

// Healthy reports the current state.
func (h *Health) Healthy() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.healthy
}

// OnChange registers fn to run on every transition. Callbacks run one at a
// time on the probing goroutine, outside any lock, in transition order.
func (h *Health) OnChange(fn func(healthy bool)) {
	h.mu.Lock()
	h.listeners = append(h.listeners, fn)
	h.mu.Unlock()
}

// Ready blocks until the app has been healthy once, or ctx is done.
func (h *Health) Ready(ctx context.Context) error {
	select {
	case <-h.ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for the app to become healthy: %w", ctx.Err())
	}
}

// Run probes right away and then every Interval until ctx is done.
func (h *Health) Run(ctx context.Context) {
	t := time.NewTicker(h.cfg.Interval)
	defer t.Stop()
	for {
		h.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (h *Health) check(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	err := h.probe(pctx)
	cancel()
	if ctx.Err() != nil {
		return // shutting down: not the app's fault
	}
	changed, listeners := h.record(err)
	if !changed {
		return
	}
	for _, fn := range listeners {
		fn(err == nil)
	}
}

// record updates the state with one probe result and reports whether
// Healthy changed, with the listeners to notify.
func (h *Health) record(err error) (bool, []func(bool)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		h.failures = 0
		h.reported = false
		if h.healthy {
			return false, nil
		}
		h.healthy = true
		select {
		case <-h.ready:
		default:
			close(h.ready)
		}
		h.log.Info("app is healthy")
		return true, h.listeners
	}
	h.failures++
	if h.failures < h.cfg.Threshold || h.reported {
		return false, nil
	}
	h.reported = true
	h.log.Warn("app is unhealthy", "failures", h.failures, "error", err)
	if !h.healthy {
		return false, nil // never healthy yet: nothing changed
	}
	h.healthy = false
	return true, h.listeners
}
