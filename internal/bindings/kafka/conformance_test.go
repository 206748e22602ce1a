package kafka

import (
	"fmt"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/bindings/bindingstest"
)

// TestConformance runs on franz-go's fake cluster with a topic and
// consumer group unique to each subtest. Request metadata travel as
// record headers; events also carry __topic and the record's position.
func TestConformance(t *testing.T) {
	brokers := newCluster(t)
	send := func(data []byte) *bindings.InvokeRequest {
		return &bindings.InvokeRequest{Operation: bindings.OpCreate, Data: data, Metadata: map[string]string{"conformance-header": "a&b c"}}
	}
	bindingstest.Run(t, bindingstest.Config{
		Metadata: func(*testing.T) bindings.Metadata {
			topic := unique("conformance")
			return bindings.Metadata{Name: "kafka", Properties: map[string]string{
				"brokers": brokers, "authType": "none",
				"heartbeatInterval": "300ms", "sessionTimeout": "6s", "consumeRetryInterval": "20",
				"publishTopic": topic, "topics": topic, "consumerGroup": unique("group"),
			}}
		},
		NewOutput: func() bindings.Output { return New() },
		Operations: []bindingstest.Operation{{
			Name:    bindings.OpCreate,
			Request: func(n int) *bindings.InvokeRequest { return send(fmt.Appendf(nil, "record %d", n)) },
		}},
		NewInput: func() bindings.Input { return New() },
		Send:     send,
		CheckEvent: func(t *testing.T, md bindings.Metadata, sent *bindings.InvokeRequest, ev *bindings.Event) {
			want := map[string]string{"__topic": md.Properties["topics"], "conformance-header": sent.Metadata["conformance-header"]}
			for k, v := range want {
				if ev.Metadata[k] != v {
					t.Errorf("event metadata %s = %q, want %q (all: %v)", k, ev.Metadata[k], v, ev.Metadata)
				}
			}
			for _, k := range []string{"__partition", "__offset", "__timestamp"} {
				if ev.Metadata[k] == "" {
					t.Errorf("event lacks metadata %s (all: %v)", k, ev.Metadata)
				}
			}
		},
		Redelivers: true,
		// Joining a consumer group takes a few rebalance rounds.
		Wait: 15 * time.Second,
	})
}
