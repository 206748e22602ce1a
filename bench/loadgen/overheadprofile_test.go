package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The profiler asks the sidecar's pprof endpoint for a CPU profile and an
// allocation delta covering the whole loop, and names the files by load,
// variant and round.
func TestOverheadProfilerFetchesBothProfiles(t *testing.T) {
	var mu sync.Mutex
	asked := map[string]string{} // profile kind -> seconds
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked[strings.TrimPrefix(r.URL.Path, "/debug/pprof/")] = r.URL.Query().Get("seconds")
		mu.Unlock()
		_, _ = w.Write([]byte("profile of " + r.URL.Path))
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	p, _ := strconv.Atoi(port)

	dir := t.TempDir()
	rep := &report{Profiling: true}
	prof, err := newOverheadProfiler(config{overheadProfileDir: dir, overheadLoad: 1500 * time.Millisecond}, rep)
	if err != nil || prof == nil {
		t.Fatalf("newOverheadProfiler = %v, %v", prof, err)
	}
	wait := prof.start(context.Background(), &sidecar{profilePort: p}, overheadLoads[0], overheadVariants[1], 2)
	wait()
	if f := prof.failures(); len(f) > 0 {
		t.Fatalf("failures: %v", f)
	}
	if asked["profile"] != "2" || asked["allocs"] != "2" {
		t.Errorf("asked %v, want profile and allocs for 2 s (the 1.5 s loop rounded up)", asked)
	}
	for kind, path := range map[string]string{"profile": "overhead-state-get-metrics-r3.cpu.pprof", "allocs": "overhead-state-get-metrics-r3.allocs.pprof"} {
		b, err := os.ReadFile(filepath.Join(dir, path))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != "profile of /debug/pprof/"+kind {
			t.Errorf("%s = %q", path, b)
		}
	}
}

// Without a directory, or with a binary that cannot profile, nothing is
// fetched; the latter says so in the notes.
func TestOverheadProfilerOff(t *testing.T) {
	rep := &report{Profiling: true}
	if prof, err := newOverheadProfiler(config{}, rep); prof != nil || err != nil {
		t.Errorf("no dir: %v, %v", prof, err)
	}
	var none *overheadProfiler
	none.start(context.Background(), nil, overheadLoads[0], overheadVariants[0], 0)()
	if none.failures() != nil {
		t.Error("nil profiler has failures")
	}
	rep = &report{}
	if prof, err := newOverheadProfiler(config{overheadProfileDir: t.TempDir()}, rep); prof != nil || err != nil || len(rep.Notes) != 1 {
		t.Errorf("no profiling: %v, %v, notes %v", prof, err, rep.Notes)
	}
}
