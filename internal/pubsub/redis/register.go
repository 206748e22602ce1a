package redis

import "github.com/outrigger/outrigger/internal/pubsub"

func init() {
	pubsub.Registry.Register("pubsub.redis", New)
}
