package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"
)

const mib = 1 << 20

// runStream sends one large body through A→B (upload) or fetches one
// (download) on a fresh pair, so each sidecar's memory growth belongs to
// that transfer alone.
func runStream(ctx context.Context, cfg config, app *echoApp, name string) streamResult {
	res := streamResult{Name: name, Bytes: int64(cfg.streamMiB) * mib}
	if err := streamCase(ctx, cfg, app, &res); err != nil {
		res.Errors++
		res.ErrorSamples = append(res.ErrorSamples, err.Error())
	}
	return res
}

func streamCase(ctx context.Context, cfg config, app *echoApp, res *streamResult) (err error) {
	// Profiling off: nothing here reads profiles, and its listener would
	// only add to the RSS being measured.
	p, err := startPair(ctx, cfg, "http", app.httpPort, false, "--max-body-size", "1Gi")
	if err != nil {
		return err
	}
	defer func() {
		if serr := p.stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	// One small call first, so connections and name resolution are in
	// place and the growth measured is the body's alone.
	warm := newHTTPEcho(p.a.httpPort, targetAppID)
	err = warm.call(ctx, 0)
	warm.close()
	if err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	transfer := upload
	if res.Name == streamDownload {
		transfer = download
	}
	return measureStream(ctx, p, res, func() error { return transfer(ctx, p.a.httpPort, res.Bytes) })
}

// measureStream runs transfer with VmRSS sampled every 10 ms. A sidecar's
// growth is its highest resident set during the transfer minus the one just
// before; a VmHWM that rose during the transfer counts too, since it
// catches a peak between two samples.
func measureStream(ctx context.Context, p *pair, res *streamResult, transfer func() error) error {
	before, err := pairMem(p)
	if err != nil {
		return err
	}
	rss := sampleRSS(10*time.Millisecond, p.a.pid(), p.b.pid())
	start := time.Now()
	terr := transfer()
	elapsed := time.Since(start)
	peaks := rss.finish()
	if terr != nil {
		return terr
	}
	after, err := pairMem(p)
	if err != nil {
		return err
	}
	res.Seconds = elapsed.Seconds()
	if res.Seconds > 0 {
		res.MiBPerSec = float64(res.Bytes) / mib / res.Seconds
	}
	res.A = memGrowth(before[0], after[0], peaks[0])
	res.B = memGrowth(before[1], after[1], peaks[1])
	return ctx.Err()
}

func pairMem(p *pair) ([2]memInfo, error) {
	a, err := procMem(p.a.pid())
	if err != nil {
		return [2]memInfo{}, fmt.Errorf("sidecar a: %w", err)
	}
	b, err := procMem(p.b.pid())
	if err != nil {
		return [2]memInfo{}, fmt.Errorf("sidecar b: %w", err)
	}
	return [2]memInfo{a, b}, nil
}

func memGrowth(before, after memInfo, sampledPeak int64) sidecarGrowth {
	peak := sampledPeak
	if after.hwm > before.hwm {
		peak = max(peak, after.hwm)
	}
	return sidecarGrowth{RSSBeforeBytes: before.rss, PeakRSSBytes: peak, GrowthBytes: max(0, peak-before.rss)}
}

// cpuProfiles fetches CPU profiles from sidecars while a
// load runs, for `go tool pprof`.
type cpuProfiles struct {
	wg    sync.WaitGroup
	mu    sync.Mutex
	notes []string
}

func startCPUProfiles(ctx context.Context, dir, transport string, p *pair, d time.Duration) *cpuProfiles {
	prefix := filepath.Join(dir, "invoke-"+transport+"-")
	return startProfiles(ctx, []profileTarget{{prefix + "a.pprof", p.a}, {prefix + "b.pprof", p.b}}, d)
}

// profileTarget is one sidecar to profile and the file for its profile.
type profileTarget struct {
	path string
	sc   *sidecar
}

// startProfiles fetches a CPU profile of d from each target at once.
func startProfiles(ctx context.Context, targets []profileTarget, d time.Duration) *cpuProfiles {
	c := &cpuProfiles{}
	secs := max(1, int(d.Round(time.Second)/time.Second))
	for _, t := range targets {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			note := "CPU profile: " + t.path
			if err := fetchPprof(ctx, t.sc.profilePort, "profile", secs, t.path); err != nil {
				note = "no CPU profile " + t.path + ": " + err.Error()
			}
			c.mu.Lock()
			c.notes = append(c.notes, note)
			c.mu.Unlock()
		}()
	}
	return c
}

func (c *cpuProfiles) wait() []string {
	c.wg.Wait()
	return c.notes
}
