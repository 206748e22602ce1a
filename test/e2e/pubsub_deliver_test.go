package e2e

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"testing"
	"time"
)

var traceparentRE = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$`)

// TestPubsubProgrammatic publishes through one sidecar and receives through
// another that shares the broker; the subscriber app declares a v2
// subscription with a CEL rule in GET /dapr/subscribe. It runs against
// every broker the binary links and the machine offers; the in-memory
// broker lives in one process, so there one sidecar publishes to itself.
func TestPubsubProgrammatic(t *testing.T) {
	for _, kind := range []*brokerKind{redisBroker, sqliteBroker, rabbitBroker, jetstreamBroker, mqttBroker, kafkaBroker, memoryBroker} {
		t.Run(kind.name, func(t *testing.T) {
			testProgrammatic(t, newEnv(t, kind), kind == memoryBroker)
		})
	}
}

func testProgrammatic(t *testing.T, env *psEnv, oneSidecar bool) {
	topic := env.topic("orders")
	app := newSubApp(fmt.Sprintf(`[{"pubsubname":"pubsub","topic":%s,
		"routes":{"rules":[{"match":"event.data.kind == \"a\"","path":"/a"}],"default":"/other"}}]`, jsonString(topic)))
	subID := env.appID("sub")
	sub := env.peer(subID, env.resources(nil), httpApp(t, app))
	pubID, pub := subID, (*sidecar)(nil)
	if oneSidecar {
		pub = startSidecars(t, sub)[0]
	} else {
		pubID = env.appID("pub")
		pub = startSidecars(t, env.peer(pubID, env.resources(nil), 0), sub)[0]
	}

	before := time.Now().Add(-time.Second).Truncate(time.Second)
	mustPublish(t, pub, "pubsub", topic, "application/json", `{"kind":"a","n":1}`)
	mustPublish(t, pub, "pubsub", topic, "application/json", `{"kind":"b","n":2}`)
	gs := app.wait(t, 2, 15*time.Second)
	app.quiet(t, 300*time.Millisecond)

	byPath := map[string]got{}
	for _, g := range gs {
		byPath[g.path] = g
	}
	wantData := map[string]string{"/a": `{"kind":"a","n":1}`, "/other": `{"kind":"b","n":2}`}
	ids := map[string]bool{}
	for path, data := range wantData {
		g, ok := byPath[path]
		if !ok {
			t.Fatalf("nothing delivered to %s: %s", path, describe(gs))
		}
		if ct := g.header.Get("Content-Type"); ct != "application/cloudevents+json" {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
		if pn := g.header.Get("pubsubName"); pn != "pubsub" {
			t.Errorf("%s: pubsubName header %q", path, pn)
		}
		// Dapr always sends traceparent (all-zero when unsampled); tracing
		// is not built yet, so only its form is checked when present.
		if tp := g.header.Get("traceparent"); tp != "" && !traceparentRE.MatchString(tp) {
			t.Errorf("%s: traceparent header %q", path, tp)
		}
		ev := g.event(t)
		checkEnvelope(t, ev, pubID, topic, "application/json", before)
		if d := jsonOf(t, ev["data"]); !jsonEqual(t, d, data) {
			t.Errorf("%s: data %s, want %s (embedded as JSON)", path, d, data)
		}
		ids[ev["id"].(string)] = true
	}
	if len(ids) != 2 {
		t.Errorf("event ids not distinct: %v", ids)
	}
}

// checkEnvelope checks the CloudEvent attributes a publisher's sidecar
// sets (app-contract §2.2).
func checkEnvelope(t *testing.T, ev map[string]any, source, topic, contentType string, notBefore time.Time) {
	t.Helper()
	want := map[string]string{
		"source": source, "type": "com.dapr.event.sent", "specversion": "1.0",
		"datacontenttype": contentType, "topic": topic, "pubsubname": "pubsub",
	}
	for k, v := range want {
		if ev[k] != v {
			t.Errorf("CloudEvent %s = %v, want %q (event %v)", k, ev[k], v, ev)
		}
	}
	if id, _ := ev["id"].(string); id == "" {
		t.Errorf("CloudEvent without id: %v", ev)
	}
	for _, k := range []string{"traceparent", "traceid", "tracestate"} {
		if _, ok := ev[k].(string); !ok {
			t.Errorf("CloudEvent %s missing or not a string: %v", k, ev[k])
		}
	}
	ts, _ := ev["time"].(string)
	tm, err := time.Parse(time.RFC3339, ts)
	if err != nil || tm.Before(notBefore) || tm.After(time.Now().Add(time.Second)) {
		t.Errorf("CloudEvent time %q (%v), want RFC3339 near now", ts, err)
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// jsonEqual compares two JSON texts by value.
func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
