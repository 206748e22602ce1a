package api

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/outrigger/outrigger/internal/configuration"
	"github.com/outrigger/outrigger/internal/crypto"
	"github.com/outrigger/outrigger/internal/lock"
	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/secretstores"
	"github.com/outrigger/outrigger/internal/state"
)

// Components are the loaded components the API serves, by building block.
type Components struct {
	StateStores []*state.Component
	PubSubs     []*pubsub.Component
	Secrets     []*secretstores.Component
	Locks       []*lock.Component
	Configs     []*configuration.Component
	Crypto      []*crypto.Component
	Outputs     []*OutputBinding
}

// componentSet is one immutable generation of components. The Core holds
// the current one behind an atomic pointer so lookups stay lock-free and a
// hot reload swaps all of them at once. calls counts the API calls that
// entered while this generation was current, so a reload can wait for them
// before closing the instances it replaced.
type componentSet struct {
	stores  map[string]*state.Component
	pubsubs map[string]*pubsub.Component
	secrets map[string]*secretstores.Component
	locks   map[string]*lock.Component
	configs map[string]*configuration.Component
	cryptos map[string]*crypto.Component
	outputs map[string]*OutputBinding

	calls    atomic.Int64
	idle     chan struct{} // closed when retired and calls reaches zero
	idleOnce sync.Once
	// retired is set once a newer generation replaced this one.
	retired atomic.Bool
}

func newComponentSet(in Components) *componentSet {
	return &componentSet{
		stores:  byName(in.StateStores, func(s *state.Component) string { return s.Name }),
		pubsubs: byName(in.PubSubs, func(p *pubsub.Component) string { return p.Name }),
		secrets: byName(in.Secrets, func(s *secretstores.Component) string { return s.Name }),
		locks:   byName(in.Locks, func(l *lock.Component) string { return l.Name }),
		configs: byName(in.Configs, func(x *configuration.Component) string { return x.Name }),
		cryptos: byName(in.Crypto, func(x *crypto.Component) string { return x.Name }),
		outputs: byName(in.Outputs, func(o *OutputBinding) string { return o.Name }),
		idle:    make(chan struct{}),
	}
}

// leave ends one call; the last call of a retired generation marks it idle.
func (s *componentSet) leave() {
	if s.calls.Add(-1) == 0 && s.retired.Load() {
		s.closeIdle()
	}
}

// closeIdle may race between the swap and the last leave; once is enough.
func (s *componentSet) closeIdle() {
	s.idleOnce.Do(func() { close(s.idle) })
}

// comps returns the current component generation.
func (c *Core) comps() *componentSet { return c.set.Load() }

// EnterCall counts an API call against the current component generation;
// the returned func ends it. Transports wrap every unary call with it so a
// hot reload closes a replaced component only after the calls that may
// hold it have returned.
func (c *Core) EnterCall() (leave func()) {
	for {
		s := c.set.Load()
		s.calls.Add(1)
		if c.set.Load() == s {
			return s.leave
		}
		// A swap raced with us: count against the new generation instead.
		s.leave()
	}
}

// SwapComponents makes next the served components. Calls that start from
// now on see next; the returned drain waits (until ctx is done) for the
// calls that started before, after which the replaced instances may be
// closed. Reloads must be serialised by the caller.
func (c *Core) SwapComponents(next Components) (drain func(ctx context.Context) error) {
	old := c.set.Swap(newComponentSet(next))
	old.retired.Store(true)
	if old.calls.Load() == 0 {
		old.closeIdle()
	}
	return func(ctx context.Context) error {
		select {
		case <-old.idle:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
