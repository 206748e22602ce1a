package rabbitmq

import (
	"fmt"
	"net/url"
	"testing"

	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/bindings/bindingstest"
)

// TestConformance: output and input on a queue unique to each subtest;
// request metadata travel as headers and come back query-escaped.
func TestConformance(t *testing.T) {
	send := func(data []byte) *bindings.InvokeRequest {
		return &bindings.InvokeRequest{Operation: bindings.OpCreate, Data: data, Metadata: map[string]string{"conformance header": "a&b c"}}
	}
	bindingstest.Run(t, bindingstest.Config{
		Metadata: func(t *testing.T) bindings.Metadata {
			return bindings.Metadata{Name: "rabbit", Properties: map[string]string{
				"host": rabbitURL, "queueName": newQueue(t), "reconnectWaitInSeconds": "200ms",
			}}
		},
		NewOutput: func() bindings.Output { return New() },
		Operations: []bindingstest.Operation{{
			Name: bindings.OpCreate,
			Request: func(n int) *bindings.InvokeRequest {
				return send(fmt.Appendf(nil, "message %d", n))
			},
		}},
		NewInput: func() bindings.Input { return New() },
		Send:     send,
		CheckEvent: func(t *testing.T, _ bindings.Metadata, sent *bindings.InvokeRequest, ev *bindings.Event) {
			for k, v := range sent.Metadata {
				if got := ev.Metadata[url.QueryEscape(k)]; got != url.QueryEscape(v) {
					t.Errorf("event metadata %q = %q, want %q (all: %v)", url.QueryEscape(k), got, url.QueryEscape(v), ev.Metadata)
				}
			}
		},
		Redelivers: true,
	})
}
