package sidecar

import (
	"github.com/outrigger/outrigger/internal/resources"
)

// componentKey names a component across categories (two components of
// different categories may share a name).
func componentKey(c resources.Component) string {
	return string(c.Category()) + "/" + c.Name()
}

// loadMark records the length of every list of a loaded before a component
// loads, so what it added can be cut out afterwards.
type loadMark struct {
	stateStores, pubsubs, secrets, locks, configs, cryptos, middlewares int
	outputs, inputs, outboxes, registered, closers                      int
}

func (l *loaded) mark() loadMark {
	return loadMark{
		stateStores: len(l.stateStores), pubsubs: len(l.pubsubs), secrets: len(l.secrets),
		locks: len(l.locks), configs: len(l.configs), cryptos: len(l.cryptos), middlewares: len(l.middlewares),
		outputs: len(l.outputs), inputs: len(l.inputs), outboxes: len(l.outboxes),
		registered: len(l.registered), closers: len(l.closers),
	}
}

// recordPart keeps what component c added since m as its own part.
func (l *loaded) recordPart(c resources.Component, m loadMark) {
	if l.parts == nil {
		l.parts = map[string]*loaded{}
	}
	l.parts[componentKey(c)] = &loaded{
		stateStores: tail(l.stateStores, m.stateStores), pubsubs: tail(l.pubsubs, m.pubsubs),
		secrets: tail(l.secrets, m.secrets), locks: tail(l.locks, m.locks), configs: tail(l.configs, m.configs),
		cryptos: tail(l.cryptos, m.cryptos), middlewares: tail(l.middlewares, m.middlewares),
		outputs: tail(l.outputs, m.outputs), inputs: tail(l.inputs, m.inputs), outboxes: tail(l.outboxes, m.outboxes),
		registered: tail(l.registered, m.registered), closers: tail(l.closers, m.closers),
	}
}

// tail copies the elements of list from index from on.
func tail[T any](list []T, from int) []T {
	if len(list) <= from {
		return nil
	}
	return append([]T(nil), list[from:]...)
}

// add appends a part's components to l.
func (l *loaded) add(p *loaded) {
	l.stateStores = append(l.stateStores, p.stateStores...)
	l.pubsubs = append(l.pubsubs, p.pubsubs...)
	l.secrets = append(l.secrets, p.secrets...)
	l.locks = append(l.locks, p.locks...)
	l.configs = append(l.configs, p.configs...)
	l.cryptos = append(l.cryptos, p.cryptos...)
	l.middlewares = append(l.middlewares, p.middlewares...)
	l.outputs = append(l.outputs, p.outputs...)
	l.inputs = append(l.inputs, p.inputs...)
	l.outboxes = append(l.outboxes, p.outboxes...)
	l.registered = append(l.registered, p.registered...)
	l.closers = append(l.closers, p.closers...)
}
