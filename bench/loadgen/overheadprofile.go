package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// overheadProfiler fetches a CPU profile and an allocation profile from
// each overhead run's sidecar over its measured closed loop, so the cost a
// variant adds can be read with `go tool pprof -diff_base`. A nil
// *overheadProfiler takes no profiles.
type overheadProfiler struct {
	dir  string
	secs int // profile length: the closed loop rounded up to whole seconds

	mu    sync.Mutex
	notes []string // profiles that could not be taken
}

// newOverheadProfiler returns nil when no directory was asked for or the
// binary cannot serve profiles (with a note saying so).
func newOverheadProfiler(cfg config, rep *report) (*overheadProfiler, error) {
	if cfg.overheadProfileDir == "" {
		return nil, nil
	}
	if !rep.Profiling {
		rep.Notes = append(rep.Notes, "-overhead-cpuprofile: the binary has no --enable-profiling flag; no profiles taken")
		return nil, nil
	}
	if err := os.MkdirAll(cfg.overheadProfileDir, 0o755); err != nil {
		return nil, fmt.Errorf("-overhead-cpuprofile: %w", err)
	}
	rep.Notes = append(rep.Notes, "overhead: CPU and allocation profiles of every run in "+cfg.overheadProfileDir+
		" (overhead-<load>-<variant>-r<round>.{cpu,allocs}.pprof); the sidecars ran with --enable-profiling")
	// Rounded up, so the profiles cover the whole loop; encoding them
	// then happens after the loop's closing CPU reading.
	secs := int((cfg.overheadLoad + time.Second - 1) / time.Second)
	return &overheadProfiler{dir: cfg.overheadProfileDir, secs: secs}, nil
}

// start begins both profiles of one run; the returned wait blocks until
// they are written (the sidecar must live until then).
func (p *overheadProfiler) start(ctx context.Context, s *sidecar, l overheadLoad, v overheadVariant, round int) (wait func()) {
	if p == nil {
		return func() {}
	}
	base := filepath.Join(p.dir, "overhead-"+strings.TrimPrefix(l.name, "overhead/")+"-"+v.name+"-r"+strconv.Itoa(round+1))
	var wg sync.WaitGroup
	fetch := func(kind, path string) {
		defer wg.Done()
		if err := fetchPprof(ctx, s.profilePort, kind, p.secs, path); err != nil {
			p.mu.Lock()
			p.notes = append(p.notes, "no "+kind+" profile "+path+": "+err.Error())
			p.mu.Unlock()
		}
	}
	wg.Add(2)
	go fetch("profile", base+".cpu.pprof")
	// allocs with seconds= is a delta: what was allocated during the loop.
	go fetch("allocs", base+".allocs.pprof")
	return wg.Wait
}

// failures are the notes of the profiles that could not be taken.
func (p *overheadProfiler) failures() []string {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.notes
}

// fetchPprof saves /debug/pprof/<kind>?seconds=secs of the sidecar to path.
func fetchPprof(ctx context.Context, port int, kind string, secs int, path string) error {
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/debug/pprof/" + kind + "?seconds=" + strconv.Itoa(secs)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("profile request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetch profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch profile: status %d", resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("profile file: %w", err)
	}
	if _, err := f.ReadFrom(resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("write profile: %w", err)
	}
	return f.Close()
}
