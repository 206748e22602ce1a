package actors

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestIdleScanFollowsLateAppConfig: the app's configuration arrives after
// Run started (as in the sidecar); the idle scan must switch to the short
// interval it implies at once, not after the 30s default first wait.
func TestIdleScanFollowsLateAppConfig(t *testing.T) {
	app := &fakeApp{config: AppConfig{ActorIdleTimeout: 200 * time.Millisecond}}
	h := newHarness(t, app, nil) // no ScanInterval: derived from the config
	if _, err := h.rt.Invoke(context.Background(), actorCall("counter", "late", "m", nil)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "idle deactivation well before the 30s default scan", func() bool {
		return slices.Contains(app.snapshot(&app.deactivated), "counter/late")
	})
}
