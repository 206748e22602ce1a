package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestJSONSchema(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, Options{Level: "warn", JSON: true, Version: "1.18.3"}).With("app_id", "orders")
	log.Info("hidden")
	log.Warn("shown", "k", "v")
	Scoped(log, "dapr.runtime.http-info").Log(t.Context(), LevelFatal, "boom")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), buf.String())
	}
	tests := []map[string]any{
		{"level": "warn", "msg": "shown", "k": "v", "scope": "dapr.runtime", "type": "log", "ver": "1.18.3", "app_id": "orders"},
		{"level": "fatal", "msg": "boom", "scope": "dapr.runtime.http-info", "type": "log", "app_id": "orders"},
	}
	for i, want := range tests {
		var rec map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &rec); err != nil {
			t.Fatalf("line %d is no JSON: %v", i, err)
		}
		for k, v := range want {
			if rec[k] != v {
				t.Errorf("line %d: %s = %v, want %v (%s)", i, k, rec[k], v, lines[i])
			}
		}
		for _, k := range []string{"time", "instance"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("line %d has no %q: %s", i, k, lines[i])
			}
		}
	}
}

func TestOneScopePerLine(t *testing.T) {
	var buf bytes.Buffer
	log := Scoped(Scoped(New(&buf, Options{Level: "debug"}), "dapr.contrib"), "dapr.contrib.state")
	log.Debug("text line")
	out := buf.String()
	if strings.Count(out, "scope=") != 1 || !strings.Contains(out, "scope=dapr.contrib.state") {
		t.Fatalf("want exactly the narrowest scope once: %q", out)
	}
	if !strings.Contains(out, "level=debug") || !strings.Contains(out, `msg="text line"`) {
		t.Fatalf("text line = %q", out)
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]string{"debug": "DEBUG", "INFO": "INFO", "warn": "WARN", "error": "ERROR", "fatal": "ERROR+4", "": "INFO"} {
		if got := ParseLevel(in).String(); got != want {
			t.Errorf("ParseLevel(%q) = %s, want %s", in, got, want)
		}
	}
}
