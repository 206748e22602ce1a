package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseActorsFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{"suite actors", []string{"-suite", "actors", "-actors-load", "1s"}, false},
		{"load too short", []string{"-suite", "actors", "-actors-load", "1ms"}, true},
		{"no reminders", []string{"-suite", "actors", "-actors-reminders", "0"}, true},
		{"period too short", []string{"-suite", "actors", "-actors-reminder-period", "1us"}, true},
		{"cpu profile", []string{"-suite", "actors", "-actors-cpuprofile", "/tmp/prof"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseFlags(tt.args)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && (!cfg.runs("actors") || cfg.runs("blocks")) {
				t.Errorf("-suite actors runs: actors %v, blocks %v", cfg.runs("actors"), cfg.runs("blocks"))
			}
		})
	}
	cfg, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.runs("actors") || cfg.actorsLoad != 5*time.Second || cfg.actorReminders != 5000 || cfg.actorReminderPeriod != 250*time.Millisecond || cfg.actorsProfileDir != "" {
		t.Errorf("defaults: runs actors %v, load %v, reminders %d every %v, profile dir %q", cfg.runs("actors"), cfg.actorsLoad, cfg.actorReminders, cfg.actorReminderPeriod, cfg.actorsProfileDir)
	}
}

// TestActorsCaseSelection checks -cases picks the actors suite's parts by
// the names the report prints.
func TestActorsCaseSelection(t *testing.T) {
	all := []string{actorsCaseActivation, actorsCallCase("local", 16), actorsCallCase("local", 64),
		actorsCallCase("remote", 16), actorsCallCase("remote", 64), actorsCaseReminders}
	tests := []struct {
		cases string
		want  []string
	}{
		{"", all},
		{"reminder", []string{"actors/reminders"}},
		{"local/c64|reminder", []string{"actors/local/c64", "actors/reminders"}},
		{"/c16$", []string{"actors/local/c16", "actors/remote/c16"}},
		{"activation", []string{"actors/activation"}},
	}
	for _, tt := range tests {
		cfg, err := parseFlags([]string{"-suite", "actors", "-cases", tt.cases})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, name := range all {
			if cfg.cases.MatchString(name) {
				got = append(got, name)
			}
		}
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("-cases %q selects %v, want %v", tt.cases, got, tt.want)
		}
	}
}

// TestRunQueueWait reads this process's schedstat, which only grows.
func TestRunQueueWait(t *testing.T) {
	if _, err := os.Stat("/proc/self/task"); err != nil {
		t.Skip("no /proc on this system")
	}
	first, err := runQueueWait(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	again, err := runQueueWait(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if first < 0 || again < first {
		t.Errorf("run-queue wait went from %v to %v", first, again)
	}
	if _, err := runQueueWait(-1); err == nil {
		t.Error("runQueueWait of a pid that cannot exist succeeded")
	}
}

// TestActorApp checks the app answers the sidecar's calls as Dapr's app
// contract says and counts reminder callbacks only.
func TestActorApp(t *testing.T) {
	a, err := startActorApp()
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	base := fmt.Sprintf("http://127.0.0.1:%d", a.port)

	resp, err := http.Get(base + "/dapr/config")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Entities []string `json:"entities"`
	}
	err = json.NewDecoder(resp.Body).Decode(&cfg)
	resp.Body.Close()
	if err != nil || len(cfg.Entities) != 1 || cfg.Entities[0] != benchActorType {
		t.Fatalf("GET /dapr/config entities = %v, %v; want [%s]", cfg.Entities, err, benchActorType)
	}

	calls := []struct {
		method, path string
		want         int
	}{
		{http.MethodPut, "/actors/BenchActor/a1/method/ping", http.StatusOK},
		{http.MethodPut, "/actors/BenchActor/a1/method/timer/t", http.StatusOK},
		{http.MethodPut, "/actors/BenchActor/a1/method/remind/r", http.StatusOK},
		{http.MethodPut, "/actors/BenchActor/a2/method/remind/r", http.StatusOK},
		{http.MethodDelete, "/actors/BenchActor/a1", http.StatusOK},
		{http.MethodGet, "/healthz", http.StatusOK},
		{http.MethodGet, "/actors/BenchActor/a1/method/ping", http.StatusMethodNotAllowed},
	}
	for _, c := range calls {
		req, err := http.NewRequest(c.method, base+c.path, bytes.NewReader([]byte(`{"data":1}`)))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s = %d, want %d", c.method, c.path, resp.StatusCode, c.want)
		}
	}
	if n := a.reminders.Load(); n != 2 {
		t.Errorf("reminder callbacks counted = %d, want 2", n)
	}
}

func TestPrintActorsTable(t *testing.T) {
	r := &report{Suite: "actors", ActorsLoadSeconds: 5, Actors: &actorsReport{
		Activation: actorsActivation{IDs: 300, ColdP50US: 900, ColdP99US: 2000, WarmP50US: 400, WarmP99US: 1000},
		Calls: []actorsCalls{
			{Name: "actors/local/c16", phaseFigures: phaseFigures{Ops: 1000, OpsPerSec: 5000, P50US: 300}, HostCPUMSPer1k: 120},
			{Name: "actors/remote/c64", Errors: 3, ErrorSamples: []string{"boom"}},
		},
		Reminders: actorsReminders{Reminders: 100, PeriodMS: 250, WindowSeconds: 5, PerSec: 390, OfferedPerSec: 400,
			HostCPUMSPer1k: 70, HostCores: 0.27, HostWaitCores: 1.5, LoadgenCPUMSPer1k: 45},
	}}
	var b strings.Builder
	if err := printTable(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"actors/local/c16", "5000", "actors/remote/c64  failed (3 errors)", "first call p50 900 µs", "390", "15463/s", "actors/remote/c64: boom",
		"70.0 ms", "0.27 cores", "1.50 cores", "45.0 ms"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if n := r.errorCount(); n != 3 {
		t.Errorf("errorCount = %d, want 3", n)
	}
}

// TestPrintActorsTableSelectedParts checks parts left out by -cases leave
// no empty headings behind.
func TestPrintActorsTableSelectedParts(t *testing.T) {
	r := &report{Suite: "actors", ActorsLoadSeconds: 5, Actors: &actorsReport{
		Reminders: actorsReminders{Reminders: 100, PeriodMS: 250, WindowSeconds: 5, PerSec: 390, OfferedPerSec: 400},
	}}
	var b strings.Builder
	if err := printTable(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "actors/reminders") || strings.Contains(out, "Calls:") || strings.Contains(out, "activation (") {
		t.Errorf("reminders-only table:\n%s", out)
	}
	r.Actors = &actorsReport{Calls: []actorsCalls{{Name: "actors/local/c16", phaseFigures: phaseFigures{Ops: 10, OpsPerSec: 5}}}}
	b.Reset()
	if err := printTable(&b, r); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); strings.Contains(out, "reminders") {
		t.Errorf("calls-only table mentions reminders:\n%s", out)
	}
}

// TestEachIndexKeysAreDistinct checks the actors suite's phases touch as
// many distinct ids as they run operations (everyKey wraps at 1,000).
func TestEachIndexKeysAreDistinct(t *testing.T) {
	const n = 2500
	var mu sync.Mutex
	seen := map[int]bool{}
	p := drive(context.Background(), n, 7, func(_ context.Context, k int) error {
		mu.Lock()
		seen[k] = true
		mu.Unlock()
		return nil
	}, eachIndex)
	if p.errs.count != 0 || len(seen) != n {
		t.Fatalf("%d operations touched %d distinct keys (%d errors), want %d", n, len(seen), p.errs.count, n)
	}
}
