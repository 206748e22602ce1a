package delivery

import "sync"

// tracker counts in-flight deliveries so Stop can wait for them. Unlike a
// WaitGroup it refuses new work once closed, so a broker calling a handler
// while Stop waits is safe.
type tracker struct {
	mu     sync.Mutex
	n      int
	closed bool
	idle   chan struct{} // closed when closed and n == 0
}

func newTracker() *tracker { return &tracker{idle: make(chan struct{})} }

// enter admits one delivery; false once the tracker is closed.
func (t *tracker) enter() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.n++
	return true
}

func (t *tracker) leave() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n--
	if t.n == 0 && t.closed {
		close(t.idle)
	}
}

// close refuses new deliveries and returns a channel closed when the last
// in-flight one leaves.
func (t *tracker) close() <-chan struct{} {
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
