package mqtt

import (
	"context"
	"testing"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/pubsub/pubsubtest"
	"github.com/outrigger/outrigger/internal/testutil"
)

// recorded wraps the broker to remember each client id the suite uses, so
// the persistent sessions it leaves on Mosquitto are removed afterwards.
type recorded struct {
	*Broker
	s *sessions
}

func (r recorded) Init(ctx context.Context, md pubsub.Metadata) error {
	r.s.add(md.Properties[pubsub.MetaConsumerID])
	return r.Broker.Init(ctx, md)
}

func TestConformance(t *testing.T) {
	testutil.RequireService(t, "Mosquitto", mqttAddr)
	p := testutil.StartProxy(t, mqttAddr)
	s := &sessions{}
	t.Cleanup(func() { s.cleanup(t) }) // after the suite closed its brokers
	pubsubtest.Run(t, pubsubtest.Config{
		New:      func() pubsub.Broker { return recorded{Broker: New(), s: s} },
		Metadata: pubsub.Metadata{Properties: map[string]string{"url": "tcp://" + p.Addr()}},
		// QoS 1 with a persistent session: the same client id gets what it
		// had not acknowledged, and what was published while it was away.
		Durable:       true,
		Restart:       func(t *testing.T) { p.Sever() },
		NoContentType: true,
	})
}
