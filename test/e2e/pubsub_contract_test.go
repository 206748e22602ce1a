package e2e

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestPubsubResponseContract checks how the subscriber's answers settle
// messages (app-contract §2.4): RETRY and 500 are redelivered (the same
// event again), DROP and 404 are dropped to the dead-letter topic, and
// without resiliency a RETRY on a subscription with a dead-letter topic
// goes there too.
func TestPubsubResponseContract(t *testing.T) {
	// Brokers that redeliver a message whose handler failed (Kafka, for
	// one, only does with consumeRetryEnabled).
	for _, kind := range []*brokerKind{redisBroker, sqliteBroker} {
		t.Run(kind.name, func(t *testing.T) {
			testResponseContract(t, newEnv(t, kind))
		})
	}
}

func testResponseContract(t *testing.T, env *psEnv) {
	plain, withDL, dead := env.topic("plain"), env.topic("withdl"), env.topic("dead")
	app := newSubApp(fmt.Sprintf(`[
		{"pubsubname":"pubsub","topic":%s,"route":"/plain"},
		{"pubsubname":"pubsub","topic":%s,"route":"/withdl","deadLetterTopic":%s},
		{"pubsubname":"pubsub","topic":%s,"route":"/dead"}]`,
		jsonString(plain), jsonString(withDL), jsonString(dead), jsonString(dead)))
	var mu sync.Mutex
	attempts := map[string]int{} // by event id
	app.answer = func(g got) (int, string) {
		ev := decodeJSONQuiet(g.body)
		id, _ := ev["id"].(string)
		mode := dataField(ev, "mode")
		mu.Lock()
		attempts[g.path+id]++
		first := attempts[g.path+id] == 1
		mu.Unlock()
		if g.path == "/dead" {
			return 200, ""
		}
		switch {
		case mode == "retry" && first:
			return 200, `{"status":"RETRY"}`
		case mode == "500" && first:
			return 500, "boom"
		case mode == "drop":
			return 200, `{"status":"DROP"}`
		case mode == "404":
			return 404, "gone"
		case mode == "retry-always":
			return 200, `{"status":"RETRY"}`
		}
		return 200, `{"status":"SUCCESS"}`
	}
	s := startSidecars(t,
		env.peer(env.appID("pub"), env.resources(nil), 0),
		env.peer(env.appID("sub"), env.resources(nil), httpApp(t, app)),
	)
	pub := s[0]
	for _, m := range []struct{ topic, mode string }{
		{plain, "retry"}, {plain, "500"}, {withDL, "drop"}, {withDL, "404"}, {withDL, "retry-always"},
	} {
		mustPublish(t, pub, "pubsub", m.topic, "application/json", `{"mode":"`+m.mode+`"}`)
	}

	// plain: 2 events × 2 attempts; withdl: 3 events once; dead: 3.
	gs := app.wait(t, 10, 15*time.Second)
	app.quiet(t, 1500*time.Millisecond)

	seen := map[string][]got{} // "path mode" → deliveries
	for _, g := range gs {
		ev := g.event(t)
		mode := dataField(ev, "mode")
		seen[g.path+" "+mode] = append(seen[g.path+" "+mode], g)
	}
	want := map[string]int{
		"/plain retry": 2, "/plain 500": 2,
		"/withdl drop": 1, "/withdl 404": 1, "/withdl retry-always": 1,
		"/dead drop": 1, "/dead 404": 1, "/dead retry-always": 1,
	}
	for k, n := range want {
		if len(seen[k]) != n {
			t.Errorf("%s: %d deliveries, want %d", k, len(seen[k]), n)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("deliveries %s", describe(gs))
	}
	// A redelivery is the same event; a dead letter is the original event.
	for _, pair := range [][2]string{
		{"/plain retry", "/plain retry"}, {"/plain 500", "/plain 500"},
		{"/withdl drop", "/dead drop"}, {"/withdl 404", "/dead 404"}, {"/withdl retry-always", "/dead retry-always"},
	} {
		a, b := seen[pair[0]], seen[pair[1]]
		if len(a) == 0 || len(b) == 0 {
			continue
		}
		first, last := a[0], b[len(b)-1]
		if !bytes.Equal(first.body, last.body) {
			t.Errorf("%s then %s: bodies differ:\n%s\n%s", pair[0], pair[1], first.body, last.body)
		}
	}
}

// decodeJSONQuiet decodes a JSON object inside an app handler, where the
// test cannot be failed; anything else gives an empty map.
func decodeJSONQuiet(b []byte) map[string]any {
	m := map[string]any{}
	dec := jsonDecoder(b)
	if dec.Decode(&m) != nil {
		return map[string]any{}
	}
	return m
}

// TestPubsubExpiredEvent publishes with metadata.ttlInSeconds on Redis
// (no native TTL, so the publisher adds `expiration`): a subscriber that
// starts after the event expired drops it to the dead-letter topic and
// still gets the unexpired one. The dead-letter subscription is raw: the
// forwarded message is unchanged, so a normal subscriber there would find
// it expired as well and drop it (as Dapr does).
func TestPubsubExpiredEvent(t *testing.T) {
	env := newEnv(t, redisBroker)
	topic, dead := env.topic("ttl"), env.topic("ttl-dead")
	pub := startSidecars(t, env.peer(env.appID("pub"), env.resources(nil), 0))[0]
	if r := publish(t, pub, "pubsub", topic, "application/json", `{"n":"expired"}`, "metadata.ttlInSeconds=1"); r.status != 204 {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	mustPublish(t, pub, "pubsub", topic, "application/json", `{"n":"fresh"}`)
	time.Sleep(1100 * time.Millisecond) // `expiration` has seconds precision

	app := newSubApp(fmt.Sprintf(`[
		{"pubsubname":"pubsub","topic":%s,"route":"/in","deadLetterTopic":%s},
		{"pubsubname":"pubsub","topic":%s,"route":"/dead","metadata":{"rawPayload":"true"}}]`, jsonString(topic), jsonString(dead), jsonString(dead)))
	startSidecars(t, env.peer(env.appID("sub"), env.resources(nil), httpApp(t, app)))
	gs := app.wait(t, 2, 10*time.Second)
	app.quiet(t, 300*time.Millisecond)
	byPath := map[string]string{}
	for _, g := range gs {
		ev := g.event(t)
		if g.path == "/dead" {
			b64, _ := ev["data_base64"].(string)
			inner, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				t.Fatalf("dead letter %s: %v", g.body, err)
			}
			if ev = decodeJSON(t, inner); ev["expiration"] == nil {
				t.Errorf("dead-lettered event without expiration: %s", inner)
			}
		}
		byPath[g.path] = dataField(ev, "n")
	}
	if byPath["/in"] != "fresh" || byPath["/dead"] != "expired" {
		t.Errorf("deliveries %s", describe(gs))
	}
}
