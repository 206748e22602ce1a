package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// benchActorType is the one actor type the actors suite hosts.
const benchActorType = "BenchActor"

// actorApp is the app behind the hosting sidecar, run inside loadgen: the
// smallest HTTP actor host (Dapr's app contract) that answers every call
// at once and counts reminder firings, so the figures are the sidecar's.
type actorApp struct {
	port      int
	srv       *http.Server
	wg        sync.WaitGroup
	reminders atomic.Int64 // reminder callbacks received
}

// actorConfig is the app's GET /dapr/config answer: one type, an idle
// timeout longer than any run so warm actors stay active.
const actorConfig = `{"entities":["` + benchActorType + `"],"actorIdleTimeout":"1h","drainOngoingCallTimeout":"10s","drainRebalancedActors":true}`

func startActorApp() (*actorApp, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("actor app listen: %w", err)
	}
	a := &actorApp{port: ln.Addr().(*net.TCPAddr).Port}
	a.srv = &http.Server{Handler: a.mux(), ReadHeaderTimeout: 10 * time.Second}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		_ = a.srv.Serve(ln) // returns once close shuts it down
	}()
	return a, nil
}

func (a *actorApp) mux() http.Handler {
	ok := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }
	m := http.NewServeMux()
	m.HandleFunc("GET /healthz", ok)
	m.HandleFunc("GET /dapr/config", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(actorConfig))
	})
	m.HandleFunc("PUT /actors/{type}/{id}/method/{method}", ok)
	m.HandleFunc("PUT /actors/{type}/{id}/method/timer/{name}", ok)
	m.HandleFunc("PUT /actors/{type}/{id}/method/remind/{name}", func(w http.ResponseWriter, _ *http.Request) {
		a.reminders.Add(1)
		w.WriteHeader(http.StatusOK)
	})
	m.HandleFunc("DELETE /actors/{type}/{id}", ok)
	return m
}

// close stops the server and waits for its goroutine.
func (a *actorApp) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		_ = a.srv.Close()
	}
	a.wg.Wait()
}
