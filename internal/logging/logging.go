// Package logging builds the process logger with Dapr's log schema, so log
// collectors and dashboards set up for daprd read Outrigger's lines as they
// are: every line carries time, level (lower case), msg, type ("log"),
// scope, instance (the host name), ver, and for a sidecar app_id; JSON with
// --log-as-json, logfmt-style text otherwise.
package logging

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
)

// LevelFatal is daprd's "fatal"; slog has no such level, so it sits above
// error.
const LevelFatal = slog.LevelError + 4

// ScopeKey is the attribute naming a log scope. Set it with Scoped: a
// logger has one scope, and a narrower one replaces the wider.
const ScopeKey = "scope"

// DefaultScope is the scope of lines logged without one.
const DefaultScope = "dapr.runtime"

// Options configure New.
type Options struct {
	Level   string // debug, info, warn, error, fatal (validated by the caller)
	JSON    bool
	Version string // "ver" on every line
}

// New builds the logger.
func New(w io.Writer, o Options) *slog.Logger {
	hopts := &slog.HandlerOptions{Level: ParseLevel(o.Level), ReplaceAttr: daprLevel}
	var inner slog.Handler
	if o.JSON {
		inner = slog.NewJSONHandler(w, hopts)
	} else {
		inner = slog.NewTextHandler(w, hopts)
	}
	host, _ := os.Hostname()
	inner = inner.WithAttrs([]slog.Attr{slog.String("instance", host), slog.String("type", "log"), slog.String("ver", o.Version)})
	return slog.New(&handler{inner: inner, scope: DefaultScope})
}

// Scoped returns log with its scope replaced.
func Scoped(log *slog.Logger, scope string) *slog.Logger {
	return log.With(ScopeKey, scope)
}

// ParseLevel maps a daprd --log-level to a slog level (info when unknown).
func ParseLevel(level string) slog.Level {
	switch strings.ToLower(level) {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	case "fatal":
		return LevelFatal
	default:
		return slog.LevelInfo
	}
}

// daprLevel prints levels as daprd does: debug, info, warn, error, fatal.
func daprLevel(groups []string, a slog.Attr) slog.Attr {
	if a.Key != slog.LevelKey || len(groups) > 0 {
		return a
	}
	l, ok := a.Value.Any().(slog.Level)
	if !ok {
		return a
	}
	switch {
	case l >= LevelFatal:
		a.Value = slog.StringValue("fatal")
	case l >= slog.LevelError:
		a.Value = slog.StringValue("error")
	case l >= slog.LevelWarn:
		a.Value = slog.StringValue("warn")
	case l >= slog.LevelInfo:
		a.Value = slog.StringValue("info")
	default:
		a.Value = slog.StringValue("debug")
	}
	return a
}

// handler keeps exactly one scope per line: a "scope" given through With
// replaces the current one instead of adding a second key.
type handler struct {
	inner slog.Handler
	scope string
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	r.AddAttrs(slog.String(ScopeKey, h.scope))
	return h.inner.Handle(ctx, r)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	scope := h.scope
	rest := make([]slog.Attr, 0, len(attrs))
	for _, a := range attrs {
		if a.Key == ScopeKey {
			scope = a.Value.String()
			continue
		}
		rest = append(rest, a)
	}
	inner := h.inner
	if len(rest) > 0 {
		inner = inner.WithAttrs(rest)
	}
	return &handler{inner: inner, scope: scope}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{inner: h.inner.WithGroup(name), scope: h.scope}
}
