package e2e

import (
	"encoding/base64"
	"fmt"
	"slices"
	"testing"
	"time"
)

func subscriptionYAML(version, name, topic, routes, scopes string) string {
	return fmt.Sprintf(`apiVersion: dapr.io/%s
kind: Subscription
metadata:
  name: %s
spec:
  pubsubname: pubsub
  topic: %s
%s
scopes: %s
`, version, name, topic, routes, scopes)
}

// TestPubsubDeclarative subscribes with Subscription resources: a v2alpha1
// one with rules scoped to this app and a v1alpha1 one without scopes are
// used; one scoped to another app id is not, nor one for a topic the
// component's subscriptionScopes deny; and a programmatic subscription
// for the same topic replaces a declarative one.
func TestPubsubDeclarative(t *testing.T) {
	env := newEnv(t, redisBroker)
	mine, theirs, v1 := env.topic("mine"), env.topic("theirs"), env.topic("v1")
	denied, replaced := env.topic("denied"), env.topic("replaced")
	subID := env.appID("sub")
	scopes := map[string]string{"subscriptionScopes": subID + "=" + mine + "," + v1 + "," + replaced}
	dir := env.resources(scopes,
		subscriptionYAML("v2alpha1", "mine", mine, `  routes:
    rules:
    - match: event.data.kind == "big"
      path: /big
    default: /small`, "["+subID+"]"),
		subscriptionYAML("v2alpha1", "theirs", theirs, "  routes:\n    default: /theirs", "[other-app]"),
		subscriptionYAML("v1alpha1", "old", v1, "  route: /v1", "[]"),
		subscriptionYAML("v1alpha1", "denied", denied, "  route: /denied", "[]"),
		subscriptionYAML("v1alpha1", "replaced", replaced, "  route: /declarative", "[]"),
	)
	app := newSubApp(fmt.Sprintf(`[{"pubsubname":"pubsub","topic":%s,"route":"/programmatic"}]`, jsonString(replaced)))
	s := startSidecars(t,
		env.peer(env.appID("pub"), env.resources(nil), 0),
		env.peer(subID, dir, httpApp(t, app)),
	)
	pub, sub := s[0], s[1]
	mustPublish(t, pub, "pubsub", mine, "application/json", `{"kind":"big"}`)
	mustPublish(t, pub, "pubsub", mine, "application/json", `{"kind":"tiny"}`)
	mustPublish(t, pub, "pubsub", theirs, "application/json", `{"kind":"big"}`)
	mustPublish(t, pub, "pubsub", v1, "application/json", `{"kind":"old"}`)
	mustPublish(t, pub, "pubsub", denied, "application/json", `{"kind":"denied"}`)
	mustPublish(t, pub, "pubsub", replaced, "application/json", `{"kind":"replaced"}`)

	gs := app.wait(t, 4, 15*time.Second)
	app.quiet(t, 500*time.Millisecond)
	var paths []string
	for _, g := range gs {
		paths = append(paths, g.path+" "+dataField(g.event(t), "kind"))
	}
	slices.Sort(paths)
	if want := []string{"/big big", "/programmatic replaced", "/small tiny", "/v1 old"}; !slices.Equal(paths, want) {
		t.Errorf("deliveries %q, want %q", paths, want)
	}

	subs := subscriptionsOf(t, sub)
	byTopic := map[string]metadataSubscription{}
	for _, m := range subs {
		byTopic[m.Topic] = m
	}
	if _, ok := byTopic[theirs]; ok {
		t.Errorf("metadata lists the subscription scoped to another app: %+v", subs)
	}
	if m := byTopic[replaced]; m.Type != "PROGRAMMATIC" || len(m.Rules) != 1 || m.Rules[0].Path != "/programmatic" {
		t.Errorf("metadata subscription of %s: %+v", replaced, m)
	}
	m := byTopic[mine]
	if m.Type != "DECLARATIVE" || m.PubsubName != "pubsub" || len(m.Rules) != 2 ||
		m.Rules[0].Match != `event.data.kind == "big"` || m.Rules[0].Path != "/big" || m.Rules[1].Path != "/small" {
		t.Errorf("metadata subscription of %s: %+v", mine, m)
	}
}

// TestPubsubRawPayload publishes with metadata.rawPayload=true: a
// subscription with rawPayload gets it wrapped in a new CloudEvent
// (data_base64 = the exact bytes), a normal subscription gets the bytes
// as they are (app-contract §2.3).
func TestPubsubRawPayload(t *testing.T) {
	env := newEnv(t, redisBroker)
	raw, plain := env.topic("raw"), env.topic("plain")
	app := newSubApp(fmt.Sprintf(`[
		{"pubsubname":"pubsub","topic":%s,"route":"/raw","metadata":{"rawPayload":"true"}},
		{"pubsubname":"pubsub","topic":%s,"route":"/plain"}]`, jsonString(raw), jsonString(plain)))
	pubID := env.appID("pub")
	s := startSidecars(t,
		env.peer(pubID, env.resources(nil), 0),
		env.peer(env.appID("sub"), env.resources(nil), httpApp(t, app)),
	)
	pub := s[0]
	const body = `{"order": 1, "raw": true}`
	for _, tp := range []string{raw, plain} {
		if r := publish(t, pub, "pubsub", tp, "application/json", body, "metadata.rawPayload=true"); r.status != 204 {
			t.Fatalf("raw publish to %s: %d %s", tp, r.status, r.body)
		}
	}
	mustPublish(t, pub, "pubsub", raw, "application/json", `{"order":2}`)

	gs := app.wait(t, 3, 15*time.Second)
	app.quiet(t, 300*time.Millisecond)
	var wrapped [][]byte
	for _, g := range gs {
		if ct := g.header.Get("Content-Type"); ct != "application/cloudevents+json" {
			t.Errorf("%s: Content-Type %q", g.path, ct)
		}
		if g.path == "/plain" {
			if string(g.body) != body {
				t.Errorf("/plain got %s, want the raw bytes %s", g.body, body)
			}
			continue
		}
		ev := g.event(t)
		for k, v := range map[string]string{
			"specversion": "1.0", "datacontenttype": "application/octet-stream", "source": "Dapr",
			"type": "com.dapr.event.sent", "topic": raw, "pubsubname": "pubsub",
		} {
			if ev[k] != v {
				t.Errorf("/raw: %s = %v, want %q (event %s)", k, ev[k], v, g.body)
			}
		}
		if id, _ := ev["id"].(string); id == "" {
			t.Errorf("/raw: no id: %s", g.body)
		}
		b64, _ := ev["data_base64"].(string)
		data, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatalf("/raw: data_base64 %q: %v", b64, err)
		}
		wrapped = append(wrapped, data)
	}
	if len(wrapped) != 2 {
		t.Fatalf("deliveries %s", describe(gs))
	}
	// One is the raw body; the other the CloudEvent of the normal publish.
	if string(wrapped[0]) != body {
		wrapped[0], wrapped[1] = wrapped[1], wrapped[0]
	}
	if string(wrapped[0]) != body {
		t.Errorf("raw publish wrapped as %q, want %q", wrapped[0], body)
	}
	inner := decodeJSON(t, wrapped[1])
	if inner["source"] != pubID || jsonOf(t, inner["data"]) != `{"order":2}` {
		t.Errorf("normal publish wrapped as %s", wrapped[1])
	}
}
