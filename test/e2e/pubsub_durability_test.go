package e2e

import (
	"fmt"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestPubsubSubscriberKilled publishes 200 messages to a slow subscriber,
// kills its sidecar with SIGKILL mid-way and starts it again (same app id,
// same broker): every message must still reach the app at least once.
// Duplicates (messages in flight at the kill) are expected and logged.
func TestPubsubSubscriberKilled(t *testing.T) {
	const total = 200
	env := newEnv(t, durableBroker())
	t.Logf("broker %s", env.kind.typ)
	topic := env.topic("durable")
	app := newSubApp(fmt.Sprintf(`[{"pubsubname":"pubsub","topic":%s,"route":"/in"}]`, jsonString(topic)))
	app.delay = 50 * time.Millisecond
	appPort := httpApp(t, app)
	subID := env.appID("sub")
	subDir := env.resources(map[string]string{"concurrency": "5"})
	s := startSidecars(t,
		env.peer(env.appID("pub"), env.resources(nil), 0),
		env.peer(subID, subDir, appPort),
	)
	pub, sub := s[0], s[1]
	for n := range total {
		mustPublish(t, pub, "pubsub", topic, "application/json", fmt.Sprintf(`{"n":"%d"}`, n))
	}

	counts := map[int]int{}
	record := func(g got) {
		n, err := strconv.Atoi(dataField(g.event(t), "n"))
		if err != nil {
			t.Fatalf("delivery %s: %v", g.body, err)
		}
		counts[n]++
	}
	for _, g := range app.wait(t, 60, 15*time.Second) {
		record(g)
	}
	if err := sub.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	sub.exitCode(t, 5*time.Second)
	t.Logf("killed the subscriber's sidecar after %d distinct messages", len(counts))

	startSidecars(t, env.peer(subID, subDir, appPort))
	deadline := time.After(30 * time.Second)
	for len(counts) < total {
		select {
		case g := <-app.ch:
			record(g)
		case <-deadline:
			t.Fatalf("only %d of %d messages received after the restart; missing %v", len(counts), total, missing(counts, total))
		}
	}
	var dups []string
	for n, c := range counts {
		if c > 1 {
			dups = append(dups, fmt.Sprintf("%d×%d", n, c))
		}
	}
	sort.Strings(dups)
	t.Logf("all %d messages received; %d delivered more than once: %v", total, len(dups), dups)
}

func missing(counts map[int]int, total int) []int {
	var out []int
	for n := range total {
		if counts[n] == 0 {
			out = append(out, n)
		}
	}
	return out
}

// TestPubsubSQLiteConcurrentStart starts several sidecars at once on a new
// SQLite broker file, as `outrigger run` does with the default pub/sub
// component: every one must start (the schema is created once, the others
// wait for it), and they must be able to talk through the file.
func TestPubsubSQLiteConcurrentStart(t *testing.T) {
	requireBrokerType(t, sqliteBroker.typ)
	// Launched a few milliseconds apart, one sidecar opens the file while
	// another is creating it.
	for round := range 2 {
		env := newEnv(t, sqliteBroker)
		topic := env.topic("together")
		app := newSubApp(fmt.Sprintf(`[{"pubsubname":"pubsub","topic":%s,"route":"/in"}]`, jsonString(topic)))
		appPort := httpApp(t, app)
		s := startTogether(t, time.Duration(round)*2*time.Millisecond,
			env.peer(env.appID("a"), env.resources(nil), 0),
			env.peer(env.appID("b"), env.resources(nil), appPort),
			env.peer(env.appID("c"), env.resources(nil), 0),
		)
		mustPublish(t, s[2], "pubsub", topic, "application/json", fmt.Sprintf(`{"n":"%d"}`, round))
		app.wait(t, 1, 5*time.Second)
		for _, sc := range s {
			sc.signal(t, syscall.SIGTERM)
			if code := sc.exitCode(t, 10*time.Second); code != 0 {
				t.Errorf("exit code %d after SIGTERM", code)
			}
		}
	}
}
