// Package configtest holds what tests of configuration stores and of the
// configuration API share: an in-memory store whose data a test changes
// directly, and the conformance suite every store implementation runs
// against its real backend.
package configtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"

	"github.com/google/uuid"

	"github.com/outrigger/outrigger/internal/configuration"
)

// Memory is an in-memory configuration store for tests. Set and Delete
// change the data and call the matching subscriptions' handlers in the
// caller's goroutine, so a test knows an update was handed over when they
// return. A deleted key is delivered with an empty value.
type Memory struct {
	mu     sync.Mutex
	err    error // set by FailWith
	items  map[string]configuration.Item
	subs   map[string]*memorySub
	closed bool
}

type memorySub struct {
	keys    map[string]bool // empty = every key
	handler configuration.UpdateHandler
}

// NewMemory returns an empty store; Init is optional.
func NewMemory() *Memory {
	return &Memory{items: map[string]configuration.Item{}, subs: map[string]*memorySub{}}
}

// FailWith makes Get and Subscribe fail with err (nil: succeed again).
func (m *Memory) FailWith(err error) {
	m.mu.Lock()
	m.err = err
	m.mu.Unlock()
}

// Init implements configuration.Store.
func (m *Memory) Init(context.Context, configuration.Metadata) error { return nil }

// Get implements configuration.Store.
func (m *Memory) Get(_ context.Context, keys []string, _ map[string]string) (map[string]*configuration.Item, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return nil, m.err
	}
	out := map[string]*configuration.Item{}
	if len(keys) == 0 {
		for k, it := range m.items {
			out[k] = clone(it)
		}
		return out, nil
	}
	for _, k := range keys {
		if it, ok := m.items[k]; ok {
			out[k] = clone(it)
		}
	}
	return out, nil
}

// Subscribe implements configuration.Store.
func (m *Memory) Subscribe(_ context.Context, keys []string, _ map[string]string, handler configuration.UpdateHandler) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return "", m.err
	}
	if m.closed {
		return "", errors.New("store is closed")
	}
	sub := &memorySub{keys: map[string]bool{}, handler: handler}
	for _, k := range keys {
		sub.keys[k] = true
	}
	id := uuid.NewString()
	m.subs[id] = sub
	return id, nil
}

// Unsubscribe implements configuration.Store.
func (m *Memory) Unsubscribe(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.subs[id]; !ok {
		return fmt.Errorf("subscription %s does not exist", id)
	}
	delete(m.subs, id)
	return nil
}

// Close implements configuration.Store.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	clear(m.subs)
	return nil
}

// Subscriptions reports how many subscriptions are active.
func (m *Memory) Subscriptions() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.subs)
}

// Set stores an item and notifies subscribers. The first handler error is
// returned.
func (m *Memory) Set(ctx context.Context, key string, it configuration.Item) error {
	m.mu.Lock()
	m.items[key] = *clone(it)
	m.mu.Unlock()
	return m.notify(ctx, key, clone(it))
}

// Delete removes an item and notifies subscribers with an empty value.
func (m *Memory) Delete(ctx context.Context, key string) error {
	m.mu.Lock()
	delete(m.items, key)
	m.mu.Unlock()
	return m.notify(ctx, key, &configuration.Item{})
}

// notify calls the handlers outside the lock, so a handler may call back
// into the store (Unsubscribe, Get).
func (m *Memory) notify(ctx context.Context, key string, it *configuration.Item) error {
	type call struct {
		id string
		h  configuration.UpdateHandler
	}
	var calls []call
	m.mu.Lock()
	for id, s := range m.subs {
		if len(s.keys) == 0 || s.keys[key] {
			calls = append(calls, call{id, s.handler})
		}
	}
	m.mu.Unlock()
	var first error
	for _, c := range calls {
		if err := c.h(ctx, c.id, map[string]*configuration.Item{key: clone(*it)}); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func clone(it configuration.Item) *configuration.Item {
	it.Metadata = maps.Clone(it.Metadata)
	return &it
}
