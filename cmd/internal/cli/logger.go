package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/outrigger/outrigger/internal/logging"
	"github.com/outrigger/outrigger/internal/version"
)

// newLogger builds the process logger in Dapr's log schema: text or JSON
// lines at level (already validated by the options package).
func newLogger(w io.Writer, level string, asJSON bool) *slog.Logger {
	return logging.New(w, logging.Options{Level: level, JSON: asJSON, Version: version.Runtime()})
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
