package inputs

import "slices"

// Reload applies a hot reload: bindings are now the loaded input bindings.
// Bindings no longer in the list (removed, or replaced by a new instance)
// stop being read; new ones start once the app confirms it wants them.
// Deliveries in flight finish.
func (e *Engine) Reload(bindings []*Binding) {
	e.mu.Lock()
	for b, cancel := range e.active {
		if !slices.Contains(bindings, b) {
			cancel()
			delete(e.active, b)
			e.log.Info("input binding stopped for reload", "binding", b.Name)
		}
	}
	e.cfg.Bindings = bindings
	run := e.started && !e.stopped && e.cfg.Channel != nil
	e.mu.Unlock()
	if run {
		e.resume(e.life)
	}
}
