package e2e

import (
	"fmt"
	"testing"
	"time"
)

// TestPubsubInstancesShare runs two sidecars with the same app id (one
// consumer group): together they receive every message once, and each
// receives some. MQTT is left out: its client id is the consumer id, so two
// instances of one app replace each other's session (as with Dapr).
func TestPubsubInstancesShare(t *testing.T) {
	tests := []struct {
		kind *brokerKind
		meta map[string]string // what makes the instances one group
	}{
		{redisBroker, nil},
		// SQLite instances claim up to their concurrency per poll: with the
		// default (100) whichever polls first after a burst takes it all.
		{sqliteBroker, map[string]string{"concurrency": "2"}},
		{rabbitBroker, nil},
		{kafkaBroker, nil},
		// JetStream instances share only with a queue group (Dapr's rule).
		{jetstreamBroker, map[string]string{"durableName": "workers", "queueGroupName": "workers"}},
	}
	for _, tt := range tests {
		t.Run(tt.kind.name, func(t *testing.T) {
			testInstancesShare(t, newEnv(t, tt.kind), tt.meta)
		})
	}
}

func testInstancesShare(t *testing.T, env *psEnv, meta map[string]string) {
	const total = 40
	topic := env.topic("shared")
	subs := fmt.Sprintf(`[{"pubsubname":"pubsub","topic":%s,"route":"/in"}]`, jsonString(topic))
	apps := []*subApp{newSubApp(subs), newSubApp(subs)}
	for _, a := range apps {
		a.delay = 5 * time.Millisecond
	}
	subID := env.appID("worker")
	s := startSidecars(t,
		env.peer(env.appID("pub"), env.resources(nil), 0),
		env.peer(subID, env.resources(meta), httpApp(t, apps[0])),
		env.peer(subID, env.resources(meta), httpApp(t, apps[1])),
	)
	// A steady stream, not one burst: a polling broker hands a burst to
	// whichever instance polls first.
	for n := range total {
		mustPublish(t, s[0], "pubsub", topic, "application/json", fmt.Sprintf(`{"n":"%d"}`, n))
		time.Sleep(5 * time.Millisecond)
	}

	counts := map[string]int{}
	per := make([]int, len(apps))
	deadline := time.After(15 * time.Second)
	for len(counts) < total {
		select {
		case g := <-apps[0].ch:
			counts[dataField(g.event(t), "n")]++
			per[0]++
		case g := <-apps[1].ch:
			counts[dataField(g.event(t), "n")]++
			per[1]++
		case <-deadline:
			t.Fatalf("%d of %d messages received (per instance %v)", len(counts), total, per)
		}
	}
	apps[0].quiet(t, 300*time.Millisecond)
	apps[1].quiet(t, 10*time.Millisecond)
	t.Logf("per instance %v", per)
	if per[0] == 0 || per[1] == 0 {
		t.Errorf("one instance got nothing: per instance %v", per)
	}
	if per[0]+per[1] != total {
		t.Errorf("%d deliveries for %d messages (per instance %v): a message went to both instances", per[0]+per[1], total, per)
	}
}
