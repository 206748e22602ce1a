package membership

import (
	"context"
	"log/slog"
	"strings"
)

// slogWriter turns the lines Raft logs through hclog into slog records, so
// they share the service's format and destination, and writes to that
// destination stay serialised by one handler.
type slogWriter struct {
	log *slog.Logger
}

func (w slogWriter) Write(p []byte) (int, error) {
	for line := range strings.Lines(string(p)) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		level, msg := parseHCLogLine(line)
		w.log.Log(context.Background(), level, msg)
	}
	return len(p), nil
}

// parseHCLogLine splits "[WARN]  raft: message: k=v" into its level and
// the rest.
func parseHCLogLine(line string) (slog.Level, string) {
	if !strings.HasPrefix(line, "[") {
		return slog.LevelInfo, line
	}
	tag, rest, ok := strings.Cut(line[1:], "]")
	if !ok {
		return slog.LevelInfo, line
	}
	rest = strings.TrimSpace(rest)
	switch tag {
	case "TRACE", "DEBUG":
		return slog.LevelDebug, rest
	case "WARN":
		return slog.LevelWarn, rest
	case "ERROR":
		return slog.LevelError, rest
	default:
		return slog.LevelInfo, rest
	}
}
