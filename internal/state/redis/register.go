package redis

import "github.com/outrigger/outrigger/internal/state"

func init() {
	state.Registry.Register("state.redis", New)
}
