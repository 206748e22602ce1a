package mqtt

import (
	"fmt"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/bindings/bindingstest"
)

// TestConformance: output and input on a topic and client id unique to
// each subtest (sessions removed afterwards); events carry their topic.
func TestConformance(t *testing.T) {
	send := func(data []byte) *bindings.InvokeRequest {
		return &bindings.InvokeRequest{Operation: bindings.OpCreate, Data: data}
	}
	bindingstest.Run(t, bindingstest.Config{
		Metadata: func(t *testing.T) bindings.Metadata {
			e := newEnv(t)
			return bindings.Metadata{Name: "mqtt", Properties: map[string]string{"url": mqttURL, "topic": e.topic, "consumerID": e.id}}
		},
		NewOutput: func() bindings.Output { return New() },
		Operations: []bindingstest.Operation{{
			Name:    bindings.OpCreate,
			Request: func(n int) *bindings.InvokeRequest { return send(fmt.Appendf(nil, "message %d", n)) },
		}},
		NewInput: func() bindings.Input {
			b := New()
			b.retryWait = 20 * time.Millisecond // the default 5s would slow the failed-event test
			return b
		},
		Send: send,
		CheckEvent: func(t *testing.T, md bindings.Metadata, _ *bindings.InvokeRequest, ev *bindings.Event) {
			if ev.Metadata["topic"] != md.Properties["topic"] {
				t.Errorf("event topic = %q, want %q", ev.Metadata["topic"], md.Properties["topic"])
			}
		},
		Redelivers: true,
	})
}
