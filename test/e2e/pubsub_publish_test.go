package e2e

import (
	"fmt"
	"net/url"
	"testing"
	"time"
)

// TestPubsubPublishErrorsAndBulk checks publish refusals (publishingScopes,
// unknown pub/sub) and that a bulk publish delivers every entry as its own
// CloudEvent.
func TestPubsubPublishErrorsAndBulk(t *testing.T) {
	env := newEnv(t, redisBroker)
	allowed, forbidden := env.topic("allowed"), env.topic("forbidden")
	pubID := env.appID("pub")
	app := newSubApp(fmt.Sprintf(`[{"pubsubname":"pubsub","topic":%s,"route":"/in"}]`, jsonString(allowed)))
	s := startSidecars(t,
		env.peer(pubID, env.resources(map[string]string{"publishingScopes": pubID + "=" + allowed}), 0),
		env.peer(env.appID("sub"), env.resources(nil), httpApp(t, app)),
	)
	pub := s[0]

	bulkURL := func(pubsubName, topic string) string {
		return pub.url("/v1.0-alpha1/publish/bulk/" + pubsubName + "/" + url.PathEscape(topic))
	}
	const oneEntry = `[{"entryId":"1","event":"x","contentType":"text/plain"}]`
	tests := []struct {
		name, url, body string
		status          int
		code, message   string
	}{
		{"forbidden topic", pub.url("/v1.0/publish/pubsub/" + forbidden), "x", 403, "ERR_PUBSUB_FORBIDDEN",
			"topic " + forbidden + " is not allowed for app id " + pubID},
		{"unknown pubsub", pub.url("/v1.0/publish/nope/" + allowed), "x", 404, "ERR_PUBSUB_NOT_FOUND", ""},
		{"bulk forbidden topic", bulkURL("pubsub", forbidden), oneEntry, 403, "ERR_PUBSUB_FORBIDDEN",
			"topic " + forbidden + " is not allowed for app id " + pubID},
		{"bulk unknown pubsub", bulkURL("nope", allowed), oneEntry, 404, "ERR_PUBSUB_NOT_FOUND", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, "POST", tt.url, tt.body, map[string]string{"Content-Type": "text/plain"})
			code, msg := daprError(t, r)
			if r.status != tt.status || code != tt.code || (tt.message != "" && msg != tt.message) {
				t.Errorf("got %d %s %q, want %d %s %q", r.status, code, msg, tt.status, tt.code, tt.message)
			}
		})
	}

	before := time.Now().Add(-time.Second).Truncate(time.Second)
	r := call(t, "POST", bulkURL("pubsub", allowed), `[
		{"entryId":"j","event":{"kind":"json","n":1},"contentType":"application/json"},
		{"entryId":"t","event":"plain text","contentType":"text/plain"},
		{"entryId":"b","event":"AAEC/w==","contentType":"application/octet-stream"}]`,
		map[string]string{"Content-Type": "application/json"})
	if r.status != 204 {
		t.Fatalf("bulk publish: %d %s", r.status, r.body)
	}
	gs := app.wait(t, 3, 15*time.Second)
	app.quiet(t, 300*time.Millisecond)
	ids := map[string]bool{}
	byType := map[string]map[string]any{}
	for _, g := range gs {
		ev := g.event(t)
		ct, _ := ev["datacontenttype"].(string)
		byType[ct] = ev
		checkEnvelope(t, ev, pubID, allowed, ct, before)
		ids[fmt.Sprint(ev["id"])] = true
	}
	if len(ids) != 3 {
		t.Errorf("event ids %v, want 3 distinct", ids)
	}
	if ev := byType["application/json"]; ev == nil || !jsonEqual(t, jsonOf(t, ev["data"]), `{"kind":"json","n":1}`) {
		t.Errorf("JSON entry arrived as %v", ev)
	}
	if ev := byType["text/plain"]; ev == nil || ev["data"] != "plain text" {
		t.Errorf("text entry arrived as %v", ev)
	}
	if ev := byType["application/octet-stream"]; ev == nil || ev["data_base64"] != "AAEC/w==" {
		t.Errorf("binary entry arrived as %v", ev)
	}
}
