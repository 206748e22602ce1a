package nameresolution

import (
	"context"
	"sync"
)

// Flight makes concurrent lookups of one key share a single run, so a cold
// cache under load causes one network or database lookup, not one per
// request.
type Flight struct {
	mu    sync.Mutex
	calls map[string]*Call
}

// Call is one run of a lookup. A run may publish a first result before it
// ends (an mDNS browse has an answer long before it stops listening for
// more); waiters get that as soon as it exists.
type Call struct {
	ready chan struct{} // closed at the first publish or at the end
	once  sync.Once
	mu    sync.Mutex
	addrs []string
	err   error
}

// Join returns the run under way for key, or starts fn in a new goroutine
// (tracked by wg, so the owner can wait for it on Close) and returns that.
// fn may call publish with early results. fn must bound its own duration:
// callers may stop waiting, the run goes on.
func (f *Flight) Join(wg *sync.WaitGroup, key string, fn func(publish func([]string)) ([]string, error)) *Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.calls[key]; ok {
		return c
	}
	if f.calls == nil {
		f.calls = map[string]*Call{}
	}
	c := &Call{ready: make(chan struct{})}
	f.calls[key] = c
	wg.Add(1)
	go func() {
		defer wg.Done()
		addrs, err := fn(func(early []string) { c.set(early, nil) })
		f.mu.Lock()
		delete(f.calls, key)
		f.mu.Unlock()
		c.set(addrs, err)
	}()
	return c
}

func (c *Call) set(addrs []string, err error) {
	c.mu.Lock()
	c.addrs, c.err = addrs, err
	c.mu.Unlock()
	c.once.Do(func() { close(c.ready) })
}

// Wait returns the first published result or the run's final one, or ctx's
// error if ctx ends first.
func (c *Call) Wait(ctx context.Context) ([]string, error) {
	select {
	case <-c.ready:
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.addrs, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
