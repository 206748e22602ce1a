package membership

import (
	"log/slog"
	"testing"
)

func TestParseHCLogLine(t *testing.T) {
	tests := []struct {
		line  string
		level slog.Level
		msg   string
	}{
		{"[WARN]  heartbeat timeout reached: last-leader-id=", slog.LevelWarn, "heartbeat timeout reached: last-leader-id="},
		{"[ERROR] failed to appendEntries", slog.LevelError, "failed to appendEntries"},
		{"[DEBUG] vote granted", slog.LevelDebug, "vote granted"},
		{"[INFO]  entering leader state", slog.LevelInfo, "entering leader state"},
		{"no level here", slog.LevelInfo, "no level here"},
	}
	for _, tt := range tests {
		level, msg := parseHCLogLine(tt.line)
		if level != tt.level || msg != tt.msg {
			t.Errorf("parseHCLogLine(%q) = %v %q, want %v %q", tt.line, level, msg, tt.level, tt.msg)
		}
	}
}
