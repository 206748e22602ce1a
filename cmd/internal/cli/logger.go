package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
)

// levelFatal is daprd's "fatal"; slog has no such level, so it sits above
// error and is printed as FATAL.
const levelFatal = slog.LevelError + 4

// newLogger builds the sidecar's logger: text or JSON lines at level
// (already validated by the options package).
func newLogger(w io.Writer, level string, asJSON bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: parseLevel(level), ReplaceAttr: nameFatal}
	if asJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func parseLevel(level string) slog.Level {
	switch level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	case "fatal":
		return levelFatal
	default:
		return slog.LevelInfo
	}
}

func nameFatal(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.LevelKey {
		if l, ok := a.Value.Any().(slog.Level); ok && l >= levelFatal {
			a.Value = slog.StringValue("FATAL")
		}
	}
	return a
}

// logOutput returns where logs go: the --log-file (appended to) when set,
// else def. The returned func closes the file.
func logOutput(path string, def io.Writer) (io.Writer, func(), error) {
	if path == "" {
		return def, func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("open --log-file: %w", err)
	}
	return f, func() { _ = f.Close() }, nil
}
