package api

import (
	"context"

	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/telemetry/metrics"
)

// Metrics is the sidecar's metrics recorder (nil when metrics are off);
// the transports use it for their server metrics.
func (c *Core) Metrics() *metrics.Metrics { return c.metrics }

// measuredCall is a component call under its resiliency policy, recorded
// in Dapr's component metrics as a whole (all attempts).
type measuredCall struct {
	pol         resiliency.Policy
	m           *metrics.Metrics
	kind        string // metrics.Kind…; "" for pub/sub egress
	name, op    string
	topic       string
	pubsubTopic bool
}

// measured is outbound(name, kind) plus the component metrics of op.
func (c *Core) measured(name string, kind resiliency.ComponentKind, op string) measuredCall {
	return measuredCall{pol: c.outbound(name, kind), m: c.metrics, kind: metricsKind(kind), name: name, op: op}
}

// measuredPublish is the pub/sub egress call of one publish to topic.
func (c *Core) measuredPublish(name, topic string) measuredCall {
	return measuredCall{pol: c.outbound(name, resiliency.Pubsub), m: c.metrics, name: name, topic: topic, pubsubTopic: true}
}

// Run runs fn under the policy and records the outcome.
func (mc measuredCall) Run(ctx context.Context, fn func(ctx context.Context) error) error {
	start := mc.m.Start()
	err := mc.pol.Run(ctx, fn)
	if mc.pubsubTopic {
		mc.m.PubsubEgress(mc.name, mc.topic, err, start)
	} else {
		mc.m.ComponentCalled(mc.kind, mc.name, mc.op, err, start)
	}
	return err
}

// metricsKind names a building block as the component metrics do; kinds
// without metrics in daprd (locks) map to "" and are not recorded.
func metricsKind(k resiliency.ComponentKind) string {
	switch k {
	case resiliency.Statestore:
		return metrics.KindState
	case resiliency.Secretstore:
		return metrics.KindSecret
	case resiliency.Configuration:
		return metrics.KindConfiguration
	case resiliency.Binding:
		return metrics.KindOutputBinding
	case resiliency.Crypto:
		return metrics.KindCrypto
	}
	return ""
}
