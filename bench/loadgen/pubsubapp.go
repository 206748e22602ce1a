package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// psMsg is the payload loadgen publishes: the phase it belongs to, its
// sequence number within the phase and when it was sent, in nanoseconds
// since the subscriber app's base time. Publisher and app share loadgen's
// monotonic clock, so handler time − T is the end-to-end latency.
type psMsg struct {
	P int   `json:"p"`
	N int64 `json:"n"`
	T int64 `json:"t"`
}

// subApp is the subscriber app behind the subscribing sidecar, run inside
// loadgen: its CPU is loadgen's. It serves /dapr/subscribe, single
// deliveries on /events and bulk deliveries on /bulk, and counts every
// message into the sink of its phase.
type subApp struct {
	base      time.Time
	subscribe []byte // body of GET /dapr/subscribe
	port      int
	srv       *http.Server
	wg        sync.WaitGroup

	mu     sync.Mutex
	sinks  map[int]*sink
	strays atomic.Int64 // messages of no tracked phase: probes, late redeliveries
	bad    errorLog     // deliveries the app could not read
}

func startSubApp(subscriptions []byte) (*subApp, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("subscriber app listen: %w", err)
	}
	a := &subApp{base: time.Now(), subscribe: subscriptions, port: ln.Addr().(*net.TCPAddr).Port, sinks: map[int]*sink{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /dapr/subscribe", a.handleSubscribe)
	mux.HandleFunc("POST /events", a.handleEvent)
	mux.HandleFunc("POST /bulk", a.handleBulk)
	a.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		_ = a.srv.Serve(ln) // returns once close shuts it down
	}()
	return a, nil
}

func (a *subApp) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil {
		a.srv.Close()
	}
	a.wg.Wait()
}

// now is the app's clock: time since base.
func (a *subApp) now() time.Duration { return time.Since(a.base) }

// track starts counting the messages of a phase.
func (a *subApp) track(phase int) *sink {
	s := &sink{seen: map[int64]uint32{}}
	a.mu.Lock()
	a.sinks[phase] = s
	a.mu.Unlock()
	return s
}

func (a *subApp) sink(phase int) *sink {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sinks[phase]
}

func (a *subApp) handleSubscribe(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(a.subscribe)
}

var successBody = []byte(`{"status":"SUCCESS"}`)

// handleEvent takes one CloudEvent whose data is a psMsg.
func (a *subApp) handleEvent(w http.ResponseWriter, r *http.Request) {
	var ev struct {
		Data psMsg `json:"data"`
	}
	if err := readJSON(r, &ev); err != nil {
		a.bad.add(fmt.Errorf("delivery: %w", err))
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.record(ev.Data, a.now())
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(successBody)
}

type bulkStatus struct {
	EntryID string `json:"entryId"`
	Status  string `json:"status"`
}

// handleBulk takes a batch and answers SUCCESS for every entry.
func (a *subApp) handleBulk(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Entries []struct {
			EntryID string `json:"entryId"`
			Event   struct {
				Data psMsg `json:"data"`
			} `json:"event"`
		} `json:"entries"`
	}
	if err := readJSON(r, &req); err != nil {
		a.bad.add(fmt.Errorf("bulk delivery: %w", err))
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	at := a.now()
	statuses := make([]bulkStatus, len(req.Entries))
	for i, e := range req.Entries {
		a.record(e.Event.Data, at)
		statuses[i] = bulkStatus{EntryID: e.EntryID, Status: "SUCCESS"}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		Statuses []bulkStatus `json:"statuses"`
	}{statuses})
}

func readJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decode %.200s: %w", body, err)
	}
	return nil
}

func (a *subApp) record(m psMsg, at time.Duration) {
	s := a.sink(m.P)
	if s == nil {
		a.strays.Add(1)
		return
	}
	s.add(m.N, at-time.Duration(m.T), at)
}

// sink counts one phase's deliveries: each sequence number once for the
// latency and the unique count, again as a duplicate.
type sink struct {
	mu     sync.Mutex
	seen   map[int64]uint32
	lat    []time.Duration // of first deliveries
	unique int
	dups   int
	last   time.Duration // app time of the latest first delivery
}

func (s *sink) add(n int64, lat, at time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.seen[n]
	s.seen[n] = c + 1
	if c > 0 {
		s.dups++
		return
	}
	s.unique++
	s.lat = append(s.lat, lat)
	s.last = max(s.last, at)
}

// counts returns the unique and duplicate deliveries so far.
func (s *sink) counts() (unique, dups int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unique, s.dups
}

// snapshot returns the counts, the sorted latencies and the time of the
// last first delivery.
func (s *sink) snapshot() (unique, dups int, lat []time.Duration, last time.Duration) {
	s.mu.Lock()
	lat = slices.Clone(s.lat)
	unique, dups, last = s.unique, s.dups, s.last
	s.mu.Unlock()
	slices.Sort(lat)
	return unique, dups, lat, last
}
