// Package inflight counts work in progress so a component's Stop can wait
// for it. Unlike a sync.WaitGroup, a closed Tracker refuses new work, so a
// broker or binding calling a handler while Stop waits is safe.
package inflight

import "sync"

// Tracker counts in-flight work. The zero value is not usable; call New.
type Tracker struct {
	mu     sync.Mutex
	n      int
	closed bool
	idle   chan struct{} // closed once closed and n == 0
}

// New returns an open Tracker with nothing in flight.
func New() *Tracker { return &Tracker{idle: make(chan struct{})} }

// Enter admits one piece of work; false once the Tracker is closed. Each
// true must be matched by one Leave.
func (t *Tracker) Enter() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.n++
	return true
}

// Leave ends one piece of work admitted by Enter.
func (t *Tracker) Leave() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n--
	if t.closed && t.n == 0 {
		close(t.idle)
	}
}

// Close refuses new work and returns a channel closed once the work in
// flight has left. Calling it again returns the same channel.
func (t *Tracker) Close() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		t.closed = true
		if t.n == 0 {
			close(t.idle)
		}
	}
	return t.idle
}
