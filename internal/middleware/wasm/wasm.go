// Package wasm is middleware.http.wasm: HTTP middleware compiled to
// WebAssembly against the http-wasm "http-handler" ABI, run in wazero (pure
// Go, no cgo). The guest exports handle_request (and handle_response) and
// inspects or rewrites the request, or answers it itself, through the host
// functions of the "http_handler" module (host.go).
//
// Metadata: url (file://, http:// or https://; required) locates the
// module, guestConfig is handed to the guest as get_config. Each request
// runs in its own module instance, taken from a small pool of idle ones.
package wasm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/outrigger/outrigger/internal/middleware"
)

func init() {
	middleware.Registry.Register("middleware.http.wasm", func() middleware.Middleware { return &Wasm{} })
}

const (
	// maxModuleBytes caps a module fetched over HTTP.
	maxModuleBytes = 64 << 20
	// idleInstances is how many module instances are kept for reuse.
	idleInstances = 16
)

// Wasm runs an http-wasm guest per request.
type Wasm struct {
	config   []byte
	runtime  wazero.Runtime
	compiled wazero.CompiledModule
	log      *slog.Logger

	idle   chan *instance
	mu     sync.Mutex // guards closed
	closed bool
}

// instance is one instantiated guest, used by one request at a time.
type instance struct {
	mod            api.Module
	handleRequest  api.Function
	handleResponse api.Function
	features       features
}

// Init loads and compiles the module, and instantiates it once to fail
// fast on a module that does not implement the ABI.
func (w *Wasm) Init(ctx context.Context, md middleware.Metadata) error {
	src, err := md.Required("url")
	if err != nil {
		return err
	}
	w.config = []byte(md.String("", "guestConfig"))
	w.log = slog.Default().With("component", md.Name)
	code, err := load(ctx, src)
	if err != nil {
		return err
	}
	// Calls end when the request's context does: a guest stuck in a loop
	// cannot hold a request forever.
	w.runtime = wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true))
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, w.runtime); err != nil {
		_ = w.Close()
		return fmt.Errorf("wasm: instantiating WASI: %w", err)
	}
	if err := w.instantiateHost(ctx); err != nil {
		_ = w.Close()
		return err
	}
	if w.compiled, err = w.runtime.CompileModule(ctx, code); err != nil {
		_ = w.Close()
		return fmt.Errorf("wasm: compiling %s: %w", src, err)
	}
	w.idle = make(chan *instance, idleInstances)
	first, err := w.newInstance(ctx)
	if err != nil {
		_ = w.Close()
		return err
	}
	w.put(first)
	return nil
}

// load reads the module from a file or URL.
func load(ctx context.Context, src string) ([]byte, error) {
	u, err := url.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("wasm: url %q: %w", src, err)
	}
	switch u.Scheme {
	case "file":
		// file://router.wasm is relative to the working directory,
		// file:///abs/router.wasm absolute.
		path := u.Host + u.Path
		if u.Host == "" {
			path = u.Path
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("wasm: reading %s: %w", src, err)
		}
		return b, nil
	case "http", "https":
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("wasm: fetching %s: %w", src, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("wasm: fetching %s: status %d", src, resp.StatusCode)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxModuleBytes+1))
		if err != nil {
			return nil, fmt.Errorf("wasm: fetching %s: %w", src, err)
		}
		if len(b) > maxModuleBytes {
			return nil, fmt.Errorf("wasm: %s is larger than %d bytes", src, maxModuleBytes)
		}
		return b, nil
	default:
		return nil, fmt.Errorf("wasm: url %q: scheme must be file, http or https", src)
	}
}

// newInstance instantiates the guest. Its start function (_initialize for
// reactors, _start for TinyGo-style commands) runs with an init state, so
// features it enables apply to every request.
func (w *Wasm) newInstance(ctx context.Context) (*instance, error) {
	st := &state{init: true}
	ictx := withState(ctx, st)
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize", "_start").
		WithStdout(io.Discard).WithStderr(io.Discard)
	mod, err := w.runtime.InstantiateModule(ictx, w.compiled, cfg)
	if err != nil {
		return nil, fmt.Errorf("wasm: instantiating the guest: %w", err)
	}
	in := &instance{mod: mod, handleRequest: mod.ExportedFunction("handle_request"),
		handleResponse: mod.ExportedFunction("handle_response"), features: st.features}
	if in.handleRequest == nil || mod.ExportedMemory("memory") == nil {
		_ = mod.Close(ctx)
		return nil, errors.New("wasm: the guest does not export handle_request and memory (is it an http-wasm handler?)")
	}
	return in, nil
}

// get takes an idle instance or makes a new one.
func (w *Wasm) get(ctx context.Context) (*instance, error) {
	select {
	case in := <-w.idle:
		return in, nil
	default:
		return w.newInstance(ctx)
	}
}

// put keeps an instance for reuse, or closes it when enough are idle or
// the middleware is closed.
func (w *Wasm) put(in *instance) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		select {
		case w.idle <- in:
			return
		default:
		}
	}
	_ = in.mod.Close(context.Background())
}

// Close releases every instance and the runtime.
func (w *Wasm) Close() error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	for drained := w.idle == nil; !drained; {
		select {
		case in := <-w.idle:
			_ = in.mod.Close(context.Background())
		default:
			drained = true
		}
	}
	if w.runtime != nil {
		return w.runtime.Close(context.Background())
	}
	return nil
}

func (w *Wasm) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		in, err := w.get(r.Context())
		if err != nil {
			w.log.Error("wasm: no guest instance", "error", err)
			middleware.RespondStatus(rw, http.StatusInternalServerError)
			return
		}
		if err := w.serve(in, rw, r, next); err != nil {
			// A trapped or cut-off guest may be in any state: drop it.
			w.log.Warn("wasm: guest failed", "error", err)
			_ = in.mod.Close(context.Background())
			return
		}
		w.put(in)
	})
}

// serve runs one request through the guest. An error means the instance
// must not be reused; the client has been answered either way.
func (w *Wasm) serve(in *instance, rw http.ResponseWriter, r *http.Request, next http.Handler) error {
	st := newState(w, r, rw, in.features)
	ctx := withState(r.Context(), st)
	res, err := in.handleRequest.Call(ctx)
	if err != nil {
		if !st.responded() {
			middleware.RespondStatus(rw, http.StatusInternalServerError)
		}
		return fmt.Errorf("handle_request: %w", err)
	}
	st.finishRequest()
	ctxNext := res[0]
	if uint32(ctxNext) == 0 {
		st.writeGuestResponse()
		return nil
	}
	reqCtx := uint32(ctxNext >> 32)
	if !st.features.has(featureBufferResponse) || in.handleResponse == nil {
		next.ServeHTTP(rw, st.r)
		if in.handleResponse != nil {
			if _, err := in.handleResponse.Call(ctx, uint64(reqCtx), 0); err != nil {
				return fmt.Errorf("handle_response: %w", err)
			}
		}
		return nil
	}
	buf := st.bufferResponse()
	next.ServeHTTP(buf, st.r)
	if _, err := in.handleResponse.Call(ctx, uint64(reqCtx), 0); err != nil {
		middleware.RespondStatus(rw, http.StatusInternalServerError)
		return fmt.Errorf("handle_response: %w", err)
	}
	st.flushResponse()
	return nil
}

// toLowerNames is shared by the header functions: the ABI reports names in
// lower case.
func toLowerNames(h http.Header) []string {
	out := make([]string, 0, len(h))
	for k := range h {
		out = append(out, strings.ToLower(k))
	}
	return out
}
