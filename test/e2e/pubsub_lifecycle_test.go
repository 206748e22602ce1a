package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestPubsubPausedWhileAppUnhealthy turns the app's health endpoint to 500:
// nothing is delivered while the sidecar considers the app unhealthy, and
// the held messages arrive once it is healthy again.
func TestPubsubPausedWhileAppUnhealthy(t *testing.T) {
	env := newEnv(t, redisBroker)
	topic := env.topic("health")
	app := newSubApp(fmt.Sprintf(`[{"pubsubname":"pubsub","topic":%s,"route":"/in"}]`, jsonString(topic)))
	s := startSidecars(t,
		env.peer(env.appID("pub"), env.resources(nil), 0),
		env.peer(env.appID("sub"), env.resources(nil), httpApp(t, app),
			"--enable-app-health-check", "--app-health-probe-interval", "1", "--app-health-threshold", "1"),
	)
	pub, sub := s[0], s[1]
	mustPublish(t, pub, "pubsub", topic, "application/json", `{"n":"before"}`)
	app.wait(t, 1, 10*time.Second)

	app.unhealthy.Store(true)
	// The metadata API reports the health change just before the
	// subscriptions are paused.
	waitFor(t, 5*time.Second, "the app to be reported unhealthy", func() bool { return appHealth(t, sub) == "unhealthy" })
	time.Sleep(100 * time.Millisecond)
	for n := range 3 {
		mustPublish(t, pub, "pubsub", topic, "application/json", fmt.Sprintf(`{"n":"%d"}`, n))
	}
	app.quiet(t, 2*time.Second)

	app.unhealthy.Store(false)
	healthy := time.Now()
	gs := app.wait(t, 3, 10*time.Second)
	t.Logf("held messages arrived %v after the app turned healthy", gs[2].at.Sub(healthy).Round(time.Millisecond))
	seen := map[string]bool{}
	for _, g := range gs {
		seen[dataField(g.event(t), "n")] = true
	}
	if len(seen) != 3 {
		t.Errorf("deliveries %s", describe(gs))
	}
}

// TestPubsubGracefulShutdown sends SIGTERM to the subscriber's sidecar
// while a delivery is in flight: the delivery completes (the app's request
// is not cut off and the message is acknowledged, so a new instance does
// not get it again) and the sidecar exits 0.
func TestPubsubGracefulShutdown(t *testing.T) {
	for _, kind := range []*brokerKind{redisBroker, sqliteBroker} {
		t.Run(kind.name, func(t *testing.T) {
			testGracefulShutdown(t, newEnv(t, kind))
		})
	}
}

func testGracefulShutdown(t *testing.T, env *psEnv) {
	topic := env.topic("drain")
	subs := fmt.Sprintf(`[{"pubsubname":"pubsub","topic":%s,"route":"/in"}]`, jsonString(topic))
	started := make(chan struct{}, 8)
	var deliveries, completed, cutOff atomic.Int32
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/dapr/subscribe" {
			_, _ = io.WriteString(w, subs)
			return
		}
		deliveries.Add(1)
		started <- struct{}{}
		select {
		case <-time.After(500 * time.Millisecond):
			completed.Add(1)
		case <-r.Context().Done():
			cutOff.Add(1)
		}
	})
	appPort := httpApp(t, app)
	subID, subDir := env.appID("sub"), env.resources(nil)
	s := startSidecars(t,
		env.peer(env.appID("pub"), env.resources(nil), 0),
		env.peer(subID, subDir, appPort),
	)
	pub, sub := s[0], s[1]
	mustPublish(t, pub, "pubsub", topic, "application/json", `{"n":"1"}`)
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the delivery did not start")
	}
	term := time.Now()
	sub.signal(t, syscall.SIGTERM)
	if code := sub.exitCode(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	t.Logf("sidecar exited %v after SIGTERM", time.Since(term).Round(time.Millisecond))
	if completed.Load() != 1 || cutOff.Load() != 0 {
		t.Fatalf("in-flight delivery: completed %d, cut off %d", completed.Load(), cutOff.Load())
	}

	// Unacknowledged, the broker would hand the message to the next
	// instance within processingTimeout / visibilityTimeout (1s).
	startSidecars(t, env.peer(subID, subDir, appPort))
	time.Sleep(1500 * time.Millisecond)
	if n := deliveries.Load(); n != 1 {
		t.Errorf("%d deliveries, want 1: the message was not acknowledged before exit", n)
	}
}

// appHealth is the sidecar's view of the app's health (metadata API,
// extended "appHealth").
func appHealth(t *testing.T, s *sidecar) string {
	t.Helper()
	r := call(t, "GET", s.url("/v1.0/metadata"), "", nil)
	var md struct {
		Extended map[string]string `json:"extended"`
	}
	if err := json.Unmarshal(r.body, &md); err != nil {
		t.Fatalf("metadata %d: %v: %s", r.status, err, r.body)
	}
	return md.Extended["appHealth"]
}

// waitFor polls cond until it holds, failing after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
