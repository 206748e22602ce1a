package inputs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/appchannel"
	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/testutil"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fakeInput records Read calls; tests fire events through the latest
// handler, as the component would.
type fakeInput struct {
	mu      sync.Mutex
	reads   int
	ctx     context.Context
	handler bindings.EventHandler
	readErr error
}

func (f *fakeInput) Init(context.Context, bindings.Metadata) error { return nil }
func (f *fakeInput) Close() error                                  { return nil }

func (f *fakeInput) Read(ctx context.Context, h bindings.EventHandler) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.readErr != nil {
		return f.readErr
	}
	f.reads++
	f.ctx, f.handler = ctx, h
	return nil
}

func (f *fakeInput) readCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

// reading reports whether the latest Read's context is still live.
func (f *fakeInput) reading() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ctx != nil && f.ctx.Err() == nil
}

// fire hands one event to the engine, as the component would.
func (f *fakeInput) fire(data string, md map[string]string) ([]byte, error) {
	f.mu.Lock()
	h := f.handler
	f.mu.Unlock()
	if h == nil {
		return nil, errors.New("never read")
	}
	return h(context.Background(), &bindings.Event{Data: []byte(data), Metadata: md})
}

// request is one call the test app received.
type request struct {
	method, path, body string
	header             http.Header
}

// httpApp is an HTTP app on a real port, reached through an app channel.
type httpApp struct {
	srv  *httptest.Server
	ch   appchannel.Channel
	mu   sync.Mutex
	reqs []request
}

func newHTTPApp(t *testing.T, token string, handle func(w http.ResponseWriter, r *http.Request)) *httpApp {
	t.Helper()
	a := &httpApp{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		a.reqs = append(a.reqs, request{r.Method, r.URL.Path, string(body), r.Header.Clone()})
		a.mu.Unlock()
		handle(w, r)
	}))
	t.Cleanup(a.srv.Close)
	ch, err := appchannel.New(context.Background(), appchannel.Config{Port: portOf(t, a.srv.Listener.Addr()), AppAPIToken: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.Close() })
	a.ch = ch
	return a
}

func (a *httpApp) requests() []request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]request(nil), a.reqs...)
}

func portOf(t *testing.T, addr net.Addr) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr.String())
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// toggleHealth is a health checker whose probe answers from healthy.
func toggleHealth(t *testing.T, healthy *atomic.Bool) *appchannel.Health {
	t.Helper()
	probe := func(context.Context) error {
		if healthy.Load() {
			return nil
		}
		return errors.New("down")
	}
	h := appchannel.NewProbeHealthChecker(probe, appchannel.HealthConfig{Interval: 5 * time.Millisecond, Threshold: 1}, quiet)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return h
}

// eventually polls cond for up to 3s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, 3*time.Second, what, cond)
}

func stopEngine(t *testing.T, e *Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
}
