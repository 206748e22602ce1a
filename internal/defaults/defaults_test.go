package defaults

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestEnsure(t *testing.T) {
	home := t.TempDir()
	written, err := Ensure(home, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{ConfigFile(home), filepath.Join(ComponentsDir(home), "statestore.yaml"), filepath.Join(ComponentsDir(home), "pubsub.yaml"), filepath.Join(ComponentsDir(home), "lockstore.yaml")}
	if len(written) != len(want) {
		t.Fatalf("written %q, want %q", written, want)
	}
	for _, w := range want {
		if _, err := os.Stat(w); err != nil {
			t.Errorf("%s not written: %v", w, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(home, "data")); err != nil || !fi.IsDir() {
		t.Errorf("data directory missing: %v", err)
	}

	var comp struct {
		Kind     string
		Metadata struct{ Name string }
		Spec     struct {
			Type     string
			Version  string
			Metadata []struct{ Name, Value string }
		}
	}
	readYAML(t, filepath.Join(ComponentsDir(home), "statestore.yaml"), &comp)
	meta := map[string]string{}
	for _, m := range comp.Spec.Metadata {
		meta[m.Name] = m.Value
	}
	if comp.Kind != "Component" || comp.Metadata.Name != "statestore" || comp.Spec.Type != "state.sqlite" || comp.Spec.Version != "v1" {
		t.Errorf("unexpected component %+v", comp)
	}
	if got := meta["connectionString"]; got != filepath.Join(home, "data", "state.db") {
		t.Errorf("connectionString = %q", got)
	}
	if meta["actorStateStore"] != "true" {
		t.Errorf("actorStateStore = %q", meta["actorStateStore"])
	}

	readYAML(t, filepath.Join(ComponentsDir(home), "pubsub.yaml"), &comp)
	meta = map[string]string{}
	for _, m := range comp.Spec.Metadata {
		meta[m.Name] = m.Value
	}
	if comp.Metadata.Name != "pubsub" || comp.Spec.Type != "pubsub.sqlite" || meta["connectionString"] != filepath.Join(home, "data", "pubsub.db") {
		t.Errorf("unexpected pub/sub component %+v", comp)
	}

	readYAML(t, filepath.Join(ComponentsDir(home), "lockstore.yaml"), &comp)
	meta = map[string]string{}
	for _, m := range comp.Spec.Metadata {
		meta[m.Name] = m.Value
	}
	if comp.Metadata.Name != "lockstore" || comp.Spec.Type != "lock.sqlite" || meta["connectionString"] != filepath.Join(home, "data", "lock.db") {
		t.Errorf("unexpected lock component %+v", comp)
	}

	var cfg struct {
		Kind     string
		Metadata struct{ Name string }
		Spec     struct {
			Tracing struct{ SamplingRate string }
		}
	}
	readYAML(t, ConfigFile(home), &cfg)
	if cfg.Kind != "Configuration" || cfg.Metadata.Name != "daprConfig" || cfg.Spec.Tracing.SamplingRate != "1" {
		t.Errorf("unexpected configuration %+v", cfg)
	}
}

func TestEnsureKeepsExistingUnlessForced(t *testing.T) {
	home := t.TempDir()
	if _, err := Ensure(home, false); err != nil {
		t.Fatal(err)
	}
	edited := []byte("# mine\n")
	if err := os.WriteFile(ConfigFile(home), edited, 0o644); err != nil {
		t.Fatal(err)
	}

	written, err := Ensure(home, false)
	if err != nil || len(written) != 0 {
		t.Fatalf("second Ensure wrote %q, err %v; want nothing", written, err)
	}
	if got, _ := os.ReadFile(ConfigFile(home)); string(got) != string(edited) {
		t.Errorf("edited file overwritten without force")
	}

	written, err = Ensure(home, true)
	if err != nil || len(written) != 4 {
		t.Fatalf("forced Ensure wrote %q, err %v; want 4 files", written, err)
	}
	if got, _ := os.ReadFile(ConfigFile(home)); !strings.Contains(string(got), "daprConfig") {
		t.Errorf("forced Ensure did not restore the file")
	}
}

func TestHome(t *testing.T) {
	dir := t.TempDir()
	got, err := Home(func(k string) string {
		if k == "OUTRIGGER_HOME" {
			return dir
		}
		return ""
	})
	if err != nil || got != dir {
		t.Errorf("Home with OUTRIGGER_HOME = %q, %v; want %q", got, err, dir)
	}
	got, err = Home(func(string) string { return "" })
	if err != nil || filepath.Base(got) != ".outrigger" {
		t.Errorf("Home without OUTRIGGER_HOME = %q, %v", got, err)
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "You may edit this file") {
		t.Errorf("%s lacks the 'you may edit' comment", path)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
