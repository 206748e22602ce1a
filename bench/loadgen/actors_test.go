package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
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
	if !cfg.runs("actors") || cfg.actorsLoad != 5*time.Second || cfg.actorReminders != 5000 || cfg.actorReminderPeriod != 250*time.Millisecond {
		t.Errorf("defaults: runs actors %v, load %v, reminders %d every %v", cfg.runs("actors"), cfg.actorsLoad, cfg.actorReminders, cfg.actorReminderPeriod)
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
			{Name: "actors/local/c16", Ops: 1000, OpsPerSec: 5000, P50US: 300, HostCPUMSPer1k: 120},
			{Name: "actors/remote/c64", Errors: 3, ErrorSamples: []string{"boom"}},
		},
		Reminders: actorsReminders{Reminders: 100, PeriodMS: 250, WindowSeconds: 5, PerSec: 390, OfferedPerSec: 400},
	}}
	var b strings.Builder
	if err := printTable(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"actors/local/c16", "5000", "actors/remote/c64  failed (3 errors)", "first call p50 900 µs", "390", "15463/s", "actors/remote/c64: boom"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if n := r.errorCount(); n != 3 {
		t.Errorf("errorCount = %d, want 3", n)
	}
}
