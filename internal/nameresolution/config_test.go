package nameresolution

import (
	"encoding/json"
	"testing"
	"time"
)

func TestConfigString(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		want    string
		wantErr bool
	}{
		{"missing uses default", Config{}, "def", false},
		{"exact key", Config{"tableName": "t1"}, "t1", false},
		{"case-insensitive", Config{"TABLENAME": "t2"}, "t2", false},
		{"alias", Config{"table": "t3"}, "t3", false},
		{"number", Config{"tableName": float64(7)}, "7", false},
		{"nil", Config{"tableName": nil}, "def", false},
		{"map is an error", Config{"tableName": map[string]any{}}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.String("def", "tableName", "table")
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("String = %q, %v; want %q, err %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestConfigDuration(t *testing.T) {
	tests := []struct {
		name    string
		val     any
		want    time.Duration
		wantErr bool
	}{
		{"missing", nil, 3 * time.Second, false},
		{"go duration", "1m30s", 90 * time.Second, false},
		{"seconds string", "20", 20 * time.Second, false},
		{"fractional seconds", "1.5", 1500 * time.Millisecond, false},
		{"json number", float64(5), 5 * time.Second, false},
		{"json.Number", json.Number("2"), 2 * time.Second, false},
		{"int", 4, 4 * time.Second, false},
		{"empty string", "", 3 * time.Second, false},
		{"garbage", "soon", 0, true},
		{"bool", true, 0, true},
		{"huge", 1e300, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{}
			if tt.val != nil {
				cfg["timeout"] = tt.val
			}
			got, err := cfg.Duration(3*time.Second, "timeout")
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("Duration = %v, %v; want %v, err %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestConfigBool(t *testing.T) {
	tests := []struct {
		val     any
		want    bool
		wantErr bool
	}{
		{nil, true, false},
		{false, false, false},
		{"false", false, false},
		{"TRUE", true, false},
		{"", true, false},
		{"maybe", false, true},
		{float64(1), false, true},
	}
	for _, tt := range tests {
		cfg := Config{}
		if tt.val != nil {
			cfg["flag"] = tt.val
		}
		got, err := cfg.Bool(true, "flag")
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Bool(%v) = %v, %v; want %v, err %v", tt.val, got, err, tt.want, tt.wantErr)
		}
	}
}
