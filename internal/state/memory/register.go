package memory

import "github.com/outrigger/outrigger/internal/state"

func init() {
	state.Registry.Register("state.in-memory", New)
}
