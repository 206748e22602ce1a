package resiliency

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/outrigger/outrigger/internal/resources"
)

// quietLog discards logs.
var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// recorder is an Observer that counts events.
type recorder struct {
	mu        sync.Mutex
	loaded    []string
	executed  map[string]int // "target/kind"
	activated map[string]int
	states    []string
}

func newRecorder() *recorder {
	return &recorder{executed: map[string]int{}, activated: map[string]int{}}
}

func (r *recorder) PolicyLoaded(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.loaded = append(r.loaded, name)
}

func (r *recorder) PolicyExecuted(t Target, k Kind) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.executed[t.Name+"/"+string(k)]++
}

func (r *recorder) PolicyActivated(t Target, k Kind) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.activated[t.Name+"/"+string(k)]++
}

func (r *recorder) CircuitBreakerState(_ Target, to string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, to)
}

func (r *recorder) count(m map[string]int, key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return m[key]
}

func (r *recorder) stateList() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.states...)
}

// newProvider builds a Provider from resources, failing the test on error.
func newProvider(t testing.TB, obs Observer, list ...resources.Resiliency) *Provider {
	t.Helper()
	var o Observer
	if obs != nil {
		o = obs
	}
	p, err := New(list, Options{Logger: quietLog, Observer: o})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// res builds a Resiliency resource.
func res(name string, pol resources.Policies, tg resources.Targets) resources.Resiliency {
	return resources.Resiliency{Metadata: resources.ObjectMeta{Name: name}, Spec: resources.ResiliencySpec{Policies: pol, Targets: tg}}
}

func intp(v int) *int { return &v }

// flaky fails its first n calls with err.
type flaky struct {
	mu    sync.Mutex
	n     int
	err   error
	calls int
}

func (f *flaky) call() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls <= f.n {
		return fmt.Errorf("attempt %d: %w", f.calls, f.err)
	}
	return nil
}

func (f *flaky) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}
