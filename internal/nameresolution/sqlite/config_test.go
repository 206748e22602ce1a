package sqlite

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     map[string]any
		check   func(t *testing.T, c config)
		wantErr string
	}{
		{"defaults", map[string]any{"connectionString": "nr.db"}, func(t *testing.T, c config) {
			if c.timeout != time.Second || c.busyTimeout != 800*time.Millisecond || c.table != "hosts" ||
				c.metadataTable != "metadata" || c.updateInterval != 5*time.Second || c.cleanupInterval != time.Hour || c.memory {
				t.Errorf("defaults = %+v", c)
			}
		}, ""},
		{"all keys", map[string]any{
			"connectionString": "/tmp/x.db", "timeout": "2s", "busyTimeout": "1s", "tableName": "nr_hosts",
			"metadataTableName": "nr_meta", "updateInterval": float64(10), "cleanupIntervalInSeconds": "600",
		}, func(t *testing.T, c config) {
			if c.timeout != 2*time.Second || c.busyTimeout != time.Second || c.table != "nr_hosts" ||
				c.metadataTable != "nr_meta" || c.updateInterval != 10*time.Second || c.cleanupInterval != 10*time.Minute {
				t.Errorf("parsed = %+v", c)
			}
		}, ""},
		{"cleanup disabled", map[string]any{"connectionString": "x", "cleanupInterval": "0"}, func(t *testing.T, c config) {
			if c.cleanupInterval != 0 {
				t.Errorf("cleanupInterval = %v", c.cleanupInterval)
			}
		}, ""},
		{"memory", map[string]any{"connectionString": ":memory:"}, func(t *testing.T, c config) {
			if !c.memory {
				t.Error("memory not detected")
			}
		}, ""},
		{"missing connection string", map[string]any{}, nil, "connectionString is required"},
		{"bad table", map[string]any{"connectionString": "x", "tableName": "hosts; drop"}, nil, "not a valid identifier"},
		{"bad metadata table", map[string]any{"connectionString": "x", "metadataTableName": "1meta"}, nil, "not a valid identifier"},
		{"fractional interval", map[string]any{"connectionString": "x", "updateInterval": "2500ms"}, nil, "whole number of seconds"},
		{"interval too close to timeout", map[string]any{"connectionString": "x", "updateInterval": "3s", "timeout": "2500ms"}, nil, "at least 1s longer"},
		{"timeout too short", map[string]any{"connectionString": "x", "timeout": "500ms"}, nil, "at least 1s"},
		{"bad duration", map[string]any{"connectionString": "x", "timeout": "later"}, nil, "not a duration"},
		{"bad bool", map[string]any{"connectionString": "x", "disableWAL": "sometimes"}, nil, "not a boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestBuildDSN(t *testing.T) {
	tests := []struct {
		conn       string
		disableWAL bool
		wantPath   string
		wantPragma []string
		wantMemory bool
	}{
		{"nr.db", false, "nr.db", []string{"busy_timeout(800)", "journal_mode(WAL)"}, false},
		{"nr.db", true, "nr.db", []string{"busy_timeout(800)"}, false},
		{":memory:", false, ":memory:", []string{"busy_timeout(800)"}, true},
		{"file:nr.db?mode=memory", false, "file:nr.db", []string{"busy_timeout(800)"}, true},
		{"nr.db?_pragma=busy_timeout(5)&_pragma=journal_mode(DELETE)", false, "nr.db", []string{"busy_timeout(5)", "journal_mode(DELETE)"}, false},
	}
	for _, tt := range tests {
		dsn, memory, err := buildDSN(tt.conn, 800*time.Millisecond, tt.disableWAL)
		if err != nil {
			t.Fatalf("buildDSN(%q): %v", tt.conn, err)
		}
		path, query, _ := strings.Cut(dsn, "?")
		q, _ := url.ParseQuery(query)
		if path != tt.wantPath || memory != tt.wantMemory || strings.Join(q["_pragma"], ",") != strings.Join(tt.wantPragma, ",") {
			t.Errorf("buildDSN(%q, %v) = %q, memory %v; want path %q pragmas %v memory %v",
				tt.conn, tt.disableWAL, dsn, memory, tt.wantPath, tt.wantPragma, tt.wantMemory)
		}
	}
	if _, _, err := buildDSN("x.db?%zz", time.Second, false); err == nil {
		t.Error("invalid query accepted")
	}
}
