package wasm

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/tetratelabs/wazero/api"
)

// The host side of the http-wasm handler ABI: the functions the guest
// imports from module "http_handler". Strings travel as (offset, length)
// in guest memory; reads take (buf, buf_limit) and write nothing when the
// value does not fit, returning its length so the guest can retry. A host
// function that cannot do its job panics, which wazero turns into a trap.

const (
	headerKindRequest  = 0
	headerKindResponse = 1
	bodyKindRequest    = 0
	bodyKindResponse   = 1
)

func (w *Wasm) instantiateHost(ctx context.Context) error {
	b := w.runtime.NewHostModuleBuilder("http_handler")
	fn := func(name string, f any) { b.NewFunctionBuilder().WithFunc(f).Export(name) }

	fn("log", func(ctx context.Context, m api.Module, level int32, msg, msgLen uint32) {
		if level < 3 { // 3 is "none"
			w.log.Log(ctx, slogLevel(level), string(read(m, msg, msgLen)), "source", "wasm guest")
		}
	})
	fn("log_enabled", func(ctx context.Context, level int32) uint32 {
		return boolU32(level < 3 && w.log.Enabled(ctx, slogLevel(level)))
	})
	fn("get_config", func(_ context.Context, m api.Module, buf, limit uint32) uint32 {
		return writeIfFits(m, buf, limit, w.config)
	})
	fn("enable_features", func(ctx context.Context, f uint32) uint32 {
		st := stateOf(ctx)
		st.features |= features(f) & supportedFeatures
		return uint32(st.features)
	})
	fn("get_method", func(ctx context.Context, m api.Module, buf, limit uint32) uint32 {
		return writeIfFits(m, buf, limit, []byte(stateOf(ctx).request().Method))
	})
	fn("set_method", func(ctx context.Context, m api.Module, p, n uint32) {
		stateOf(ctx).request().Method = string(read(m, p, n))
	})
	fn("get_uri", func(ctx context.Context, m api.Module, buf, limit uint32) uint32 {
		return writeIfFits(m, buf, limit, []byte(stateOf(ctx).request().URL.RequestURI()))
	})
	fn("set_uri", func(ctx context.Context, m api.Module, p, n uint32) {
		setURI(stateOf(ctx).request(), string(read(m, p, n)))
	})
	fn("get_protocol_version", func(ctx context.Context, m api.Module, buf, limit uint32) uint32 {
		return writeIfFits(m, buf, limit, []byte(stateOf(ctx).request().Proto))
	})
	fn("get_header_names", func(ctx context.Context, m api.Module, kind, buf, limit uint32) uint64 {
		h := headers(stateOf(ctx), kind, false)
		if h == nil {
			return 0
		}
		return writeList(m, buf, limit, toLowerNames(h))
	})
	fn("get_header_values", func(ctx context.Context, m api.Module, kind, name, nameLen, buf, limit uint32) uint64 {
		h := headers(stateOf(ctx), kind, false)
		if h == nil {
			return 0
		}
		return writeList(m, buf, limit, h.Values(string(read(m, name, nameLen))))
	})
	fn("set_header_value", func(ctx context.Context, m api.Module, kind, name, nameLen, value, valueLen uint32) {
		headers(stateOf(ctx), kind, true).Set(string(read(m, name, nameLen)), string(read(m, value, valueLen)))
	})
	fn("add_header_value", func(ctx context.Context, m api.Module, kind, name, nameLen, value, valueLen uint32) {
		headers(stateOf(ctx), kind, true).Add(string(read(m, name, nameLen)), string(read(m, value, valueLen)))
	})
	fn("remove_header", func(ctx context.Context, m api.Module, kind, name, nameLen uint32) {
		headers(stateOf(ctx), kind, true).Del(string(read(m, name, nameLen)))
	})
	fn("read_body", func(ctx context.Context, m api.Module, kind, buf, limit uint32) uint64 {
		if limit == 0 {
			panic("read_body with a zero buf_limit")
		}
		p := make([]byte, limit)
		var n int
		var eof bool
		switch kind {
		case bodyKindRequest:
			n, eof = stateOf(ctx).readRequestBody(p)
		case bodyKindResponse:
			n, eof = stateOf(ctx).readResponseBody(p)
		default:
			panic(fmt.Sprintf("read_body: unknown body kind %d", kind))
		}
		if n > 0 && !m.Memory().Write(buf, p[:n]) {
			panic("read_body: buffer out of range")
		}
		return uint64(boolU32(eof))<<32 | uint64(n)
	})
	fn("write_body", func(ctx context.Context, m api.Module, kind, p, n uint32) {
		data := read(m, p, n)
		switch kind {
		case bodyKindRequest:
			stateOf(ctx).writeRequestBody(data)
		case bodyKindResponse:
			stateOf(ctx).writeResponseBody(data)
		default:
			panic(fmt.Sprintf("write_body: unknown body kind %d", kind))
		}
	})
	fn("get_status_code", func(ctx context.Context) uint32 {
		st := stateOf(ctx)
		st.request()
		return uint32(st.statusCode())
	})
	fn("set_status_code", func(ctx context.Context, code uint32) {
		st := stateOf(ctx)
		st.request()
		if code < 100 || code > 999 {
			panic(fmt.Sprintf("set_status_code: invalid status %d", code))
		}
		st.setStatusCode(int(code))
	})
	fn("get_source_addr", func(ctx context.Context, m api.Module, buf, limit uint32) uint32 {
		return writeIfFits(m, buf, limit, []byte(stateOf(ctx).request().RemoteAddr))
	})
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("wasm: instantiating the http_handler host module: %w", err)
	}
	return nil
}

// headers picks the header map of a kind. Trailers are not supported: they
// read as empty and writing them traps, as the ABI asks of such hosts.
func headers(st *state, kind uint32, write bool) http.Header {
	switch kind {
	case headerKindRequest:
		return st.request().Header
	case headerKindResponse:
		return st.responseHeader()
	case 2, 3:
		if write {
			panic("trailers are not supported")
		}
		return nil
	}
	panic(fmt.Sprintf("unknown header kind %d", kind))
}

// setURI replaces path and query from a request URI ("/a/b?c=d").
func setURI(r *http.Request, uri string) {
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		panic(fmt.Sprintf("set_uri %q: %v", uri, err))
	}
	r.URL.Path, r.URL.RawPath, r.URL.RawQuery = u.Path, u.RawPath, u.RawQuery
	if r.RequestURI != "" {
		r.RequestURI = r.URL.RequestURI()
	}
}

// read copies guest memory.
func read(m api.Module, p, n uint32) []byte {
	b, ok := m.Memory().Read(p, n)
	if !ok {
		panic(fmt.Sprintf("memory read out of range (%d+%d)", p, n))
	}
	return append([]byte(nil), b...)
}

// writeIfFits writes v at buf when it fits in limit; the result is v's
// length either way.
func writeIfFits(m api.Module, buf, limit uint32, v []byte) uint32 {
	if uint32(len(v)) <= limit && len(v) > 0 && !m.Memory().Write(buf, v) {
		panic("memory write out of range")
	}
	return uint32(len(v))
}

// writeList writes NUL-terminated values when they fit and returns
// count<<32 | length.
func writeList(m api.Module, buf, limit uint32, vals []string) uint64 {
	if len(vals) == 0 {
		return 0
	}
	var b strings.Builder
	for _, v := range vals {
		b.WriteString(v)
		b.WriteByte(0)
	}
	n := writeIfFits(m, buf, limit, []byte(b.String()))
	return uint64(len(vals))<<32 | uint64(n)
}

func slogLevel(level int32) slog.Level {
	switch {
	case level < 0:
		return slog.LevelDebug
	case level == 0:
		return slog.LevelInfo
	case level == 1:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

func boolU32(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}
