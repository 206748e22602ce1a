package cron

import (
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/bindings/bindingstest"
)

// TestConformance: a cron input ticking every second, whose events carry
// no data but the timeZone and readTimeUTC metadata.
func TestConformance(t *testing.T) {
	bindingstest.Run(t, bindingstest.Config{
		Metadata: func(*testing.T) bindings.Metadata {
			return bindings.Metadata{Name: "tick", Properties: map[string]string{"schedule": "@every 1s"}}
		},
		NewInput: func() bindings.Input { return New() },
		CheckEvent: func(t *testing.T, _ bindings.Metadata, _ *bindings.InvokeRequest, ev *bindings.Event) {
			if len(ev.Data) != 0 || ev.Metadata["timeZone"] != time.Local.String() || ev.Metadata["readTimeUTC"] == "" {
				t.Errorf("cron event %q %v", ev.Data, ev.Metadata)
			}
		},
	})
}
