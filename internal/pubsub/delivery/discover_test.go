package delivery

import (
	"io"
	"net/http"
	"testing"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/resources"
)

// summary renders subscriptions as "pubsub/topic:TYPE:match>path,..." for
// compact comparisons.
func summary(subs []*runtimev1.PubsubSubscription) []string {
	var out []string
	for _, s := range subs {
		line := s.GetPubsubName() + "/" + s.GetTopic() + ":" + s.GetType().String() + ":"
		for i, r := range s.GetRules().GetRules() {
			if i > 0 {
				line += ","
			}
			line += r.GetMatch() + ">" + r.GetPath()
		}
		if s.GetDeadLetterTopic() != "" {
			line += ":dlq=" + s.GetDeadLetterTopic()
		}
		out = append(out, line)
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDiscoveryHTTP(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   []string
	}{
		{"v1", 200, `[{"pubsubname":"ps","topic":"a","route":"/a","deadLetterTopic":"dead"}]`,
			[]string{"ps/a:PROGRAMMATIC:>/a:dlq=dead"}},
		{"v2", 200, `[{"pubsubname":"ps","topic":"a","routes":{"rules":[{"match":"event.type == \"x\"","path":"/x"}],"default":"/d"}}]`,
			[]string{`ps/a:PROGRAMMATIC:event.type == "x">/x,>/d`}},
		{"mixed and default beats route", 200, `[
			{"pubsubname":"ps","topic":"a","route":"/a"},
			{"pubsubname":"ps","topic":"b","route":"/ignored","routes":{"default":"/b"}},
			{"pubsubname":"ps","topic":"c","routes":{"rules":[{"match":"","path":"/c"}]}}]`,
			[]string{"ps/a:PROGRAMMATIC:>/a", "ps/b:PROGRAMMATIC:>/b", "ps/c:PROGRAMMATIC:>/c"}},
		{"element without route discarded", 200, `[{"pubsubname":"ps","topic":"a"},{"pubsubname":"ps","topic":"b","route":"b"}]`,
			[]string{"ps/b:PROGRAMMATIC:>b"}},
		{"unknown pubsub ignored", 200, `[{"pubsubname":"nope","topic":"a","route":"/a"}]`, nil},
		{"404 means none", 404, `[{"pubsubname":"ps","topic":"a","route":"/a"}]`, nil},
		{"500 means none", 500, `[{"pubsubname":"ps","topic":"a","route":"/a"}]`, nil},
		{"empty body", 200, ``, nil},
		{"not JSON", 200, `{{`, nil},
		{"invalid CEL rejects the whole list", 200, `[
			{"pubsubname":"ps","topic":"a","route":"/a"},
			{"pubsubname":"ps","topic":"b","routes":{"rules":[{"match":"event.type ==","path":"/x"}]}}]`, nil},
		{"non-bool CEL rejects the whole list", 200, `[
			{"pubsubname":"ps","topic":"a","route":"/a"},
			{"pubsubname":"ps","topic":"b","routes":{"rules":[{"match":"1 + 2","path":"/x"}]}}]`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			app := newHTTPApp(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			b := newFakeBroker()
			e := startEngine(t, Config{
				PubSubs: map[string]*pubsub.Component{"ps": newComp("ps", b, pubsub.Scopes{})},
				Channel: app.channel(t),
			})
			got := summary(e.Subscriptions())
			if !equalStrings(got, tc.want) {
				t.Fatalf("subscriptions = %q, want %q", got, tc.want)
			}
			reqs := app.requests("/dapr/subscribe")
			if len(reqs) != 1 || reqs[0].method != http.MethodGet {
				t.Fatalf("want one GET /dapr/subscribe, got %+v", reqs)
			}
			if ct := reqs[0].header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if id := reqs[0].header.Get("dapr-app-id"); id == "" {
				t.Errorf("GET /dapr/subscribe lacks the dapr-app-id header")
			}
			for _, s := range e.Subscriptions() {
				if !b.subscribed(s.GetTopic()) {
					t.Errorf("topic %s not subscribed at the broker", s.GetTopic())
				}
			}
		})
	}
}

func TestDiscoveryRetriesConnectionErrors(t *testing.T) {
	tests := []struct {
		fails int
		want  int // subscriptions
	}{
		{fails: 3, want: 1}, // 3 retries after the first failure...
		{fails: 4, want: 0}, // ...and no more
	}
	for _, tc := range tests {
		app := newHTTPApp(t, subscribeJSON(`[{"pubsubname":"ps","topic":"a","route":"/a"}]`))
		ch := &flakyChannel{Channel: app.channel(t), fails: tc.fails}
		e := startEngine(t, Config{
			PubSubs: map[string]*pubsub.Component{"ps": newComp("ps", newFakeBroker(), pubsub.Scopes{})},
			Channel: ch,
		})
		if got := len(e.Subscriptions()); got != tc.want {
			t.Errorf("fails=%d: %d subscriptions, want %d", tc.fails, got, tc.want)
		}
	}
}

func TestNoDiscoveryWithoutPubSubs(t *testing.T) {
	app := newHTTPApp(t, subscribeJSON(`[]`))
	startEngine(t, Config{Channel: app.channel(t)})
	if n := len(app.requests("/dapr/subscribe")); n != 0 {
		t.Fatalf("app called %d times, want none", n)
	}
}

func declared(name, topic, route string, scopes ...string) resources.Subscription {
	return resources.Subscription{
		Metadata: resources.ObjectMeta{Name: name},
		Spec:     resources.SubscriptionSpec{PubsubName: "ps", Topic: topic, Routes: resources.Routes{Default: route}},
		Scopes:   scopes,
	}
}

func TestPrecedence(t *testing.T) {
	app := newHTTPApp(t, subscribeJSON(`[{"pubsubname":"ps","topic":"b","route":"/prog-b"},{"pubsubname":"ps","topic":"b","route":"/prog-b2"}]`))
	b := newFakeBroker()
	bad := declared("bad", "e", "/e")
	bad.Spec.Routes.Rules = []resources.Rule{{Match: "event.type ==", Path: "/x"}}
	e := startEngine(t, Config{
		PubSubs: map[string]*pubsub.Component{"ps": newComp("ps", b, pubsub.Scopes{})},
		Channel: app.channel(t),
		Declarative: []resources.Subscription{
			declared("first", "a", "/first-a"),
			declared("second", "a", "/second-a"),
			declared("decl-b", "b", "/decl-b"),
			declared("other-app", "c", "/c", "someone-else"),
			declared("mine", "d", "/d", "myapp"),
			bad,
		},
	})
	want := []string{"ps/a:DECLARATIVE:>/first-a", "ps/b:PROGRAMMATIC:>/prog-b", "ps/d:DECLARATIVE:>/d"}
	if got := summary(e.Subscriptions()); !equalStrings(got, want) {
		t.Fatalf("subscriptions = %q, want %q", got, want)
	}
}

func TestScopingRefusal(t *testing.T) {
	app := newHTTPApp(t, subscribeJSON(`[{"pubsubname":"ps","topic":"allowed","route":"/a"},{"pubsubname":"ps","topic":"secret","route":"/s"}]`))
	b := newFakeBroker()
	scopes := pubsub.Scopes{Subscribe: map[string]bool{"allowed": true}}
	e := startEngine(t, Config{
		PubSubs:     map[string]*pubsub.Component{"ps": newComp("ps", b, scopes)},
		Channel:     app.channel(t),
		Declarative: []resources.Subscription{declared("d", "secret2", "/s2")},
	})
	want := []string{"ps/allowed:PROGRAMMATIC:>/a"}
	if got := summary(e.Subscriptions()); !equalStrings(got, want) {
		t.Fatalf("subscriptions = %q, want %q", got, want)
	}
	if b.sub("secret") != nil || b.sub("secret2") != nil {
		t.Fatal("refused topics were subscribed at the broker")
	}
}

func TestSubscribeRequestCarriesMetadataAndNamespace(t *testing.T) {
	app := newHTTPApp(t, subscribeJSON(`[{"pubsubname":"ps","topic":"a","route":"/a","metadata":{"consumerID":"g1"}}]`))
	b := newFakeBroker()
	comp := newComp("ps", b, pubsub.Scopes{})
	comp.NamespacePrefix = "ns."
	startEngine(t, Config{PubSubs: map[string]*pubsub.Component{"ps": comp}, Channel: app.channel(t)})
	s := b.sub("ns.a")
	if s == nil {
		t.Fatal("topic not subscribed with the namespace prefix")
	}
	if s.req.Metadata["consumerID"] != "g1" {
		t.Fatalf("subscribe metadata = %v", s.req.Metadata)
	}
}
