package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// blkConfigItem is one item of the configuration API and of an update.
type blkConfigItem struct {
	Value    string            `json:"value"`
	Version  string            `json:"version"`
	Metadata map[string]string `json:"metadata"`
}

// blkConfigUpdate is one POST /configuration/<store>/<key> the app got.
type blkConfigUpdate struct {
	path        string
	contentType string
	ID          string                   `json:"id"`
	Items       map[string]blkConfigItem `json:"items"`
}

// blkConfigApp records configuration updates and answers 200; anything
// else gets 404, as from an app without those routes.
type blkConfigApp struct{ updates chan blkConfigUpdate }

func (a *blkConfigApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/configuration/") {
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	u := blkConfigUpdate{path: r.URL.Path, contentType: r.Header.Get("Content-Type")}
	if err := json.Unmarshal(body, &u); err != nil {
		u.ID = "undecodable: " + string(body)
	}
	select {
	case a.updates <- u:
	default: // the test stopped reading; dropping is fine
	}
	w.WriteHeader(http.StatusOK)
}

// blkKeyspaceEvents turns keyspace notifications on for the test and puts
// the server's setting back at the end.
func blkKeyspaceEvents(t *testing.T, rdb *goredis.Client) {
	t.Helper()
	ctx := context.Background()
	old, err := rdb.ConfigGet(ctx, "notify-keyspace-events").Result()
	if err != nil {
		t.Fatalf("CONFIG GET notify-keyspace-events: %v", err)
	}
	if err := rdb.ConfigSet(ctx, "notify-keyspace-events", "KA").Err(); err != nil {
		t.Fatalf("CONFIG SET notify-keyspace-events: %v", err)
	}
	t.Cleanup(func() { rdb.ConfigSet(context.Background(), "notify-keyspace-events", old["notify-keyspace-events"]) })
}

func TestBlocksConfiguration(t *testing.T) {
	rdb := blkRedis(t)
	ctx := context.Background()
	blkKeyspaceEvents(t, rdb)
	prefix := blkUnique("blkcfg")
	keyA, keyB, missing := prefix+"-a", prefix+"-b", prefix+"-missing"
	t.Cleanup(func() { rdb.Del(context.Background(), keyA, keyB) })
	if err := rdb.MSet(ctx, keyA, "v1||1", keyB, "v2").Err(); err != nil {
		t.Fatal(err)
	}
	app := &blkConfigApp{updates: make(chan blkConfigUpdate, 64)}
	dir := blkResources(t, blkComponent("configstore", "configuration.redis", map[string]string{"redisHost": blkRedisAddr}))
	s := blkStart(t, blkSidecar{appID: blkUnique("config"), resources: dir, appPort: httpApp(t, app)})[0]

	t.Run("get", func(t *testing.T) {
		var got map[string]blkConfigItem
		blkJSON(t, blkCall(t, "GET", s.url("/v1.0/configuration/configstore?key="+keyA+"&key="+keyB+"&key="+missing), ""), 200, &got)
		if len(got) != 2 || got[keyA].Value != "v1" || got[keyA].Version != "1" || got[keyB].Value != "v2" || got[keyB].Version != "" {
			t.Errorf("items = %+v", got)
		}
		if r := blkCall(t, "GET", s.url("/v1.0-alpha1/configuration/configstore?key="+missing), ""); r.status != 204 || len(r.body) != 0 {
			t.Errorf("get of a missing key: %d %q, want 204 and no body", r.status, r.body)
		}
		blkWantError(t, blkCall(t, "GET", s.url("/v1.0/configuration/nosuch?key=a"), ""), 400,
			"ERR_CONFIGURATION_STORE_NOT_FOUND", "configuration store nosuch not found")
	})

	t.Run("subscribe", func(t *testing.T) {
		var sub struct {
			ID string `json:"id"`
		}
		blkJSON(t, blkCall(t, "GET", s.url("/v1.0/configuration/configstore/subscribe?key="+keyA), ""), 200, &sub)
		if sub.ID == "" {
			t.Fatal("subscribe answered no id")
		}
		// keyB changes first: it is not subscribed, so only keyA's
		// change may arrive.
		if err := rdb.Set(ctx, keyB, "v2b", 0).Err(); err != nil {
			t.Fatal(err)
		}
		u := blkAwaitUpdate(t, rdb, app, keyA, "v3", "2")
		if u.path != "/configuration/configstore/"+keyA || u.contentType != "application/json" || u.ID != sub.ID {
			t.Errorf("update %s (Content-Type %q, id %q), want /configuration/configstore/%s, application/json, id %q",
				u.path, u.contentType, u.ID, keyA, sub.ID)
		}
		if it := u.Items[keyA]; len(u.Items) != 1 || it.Value != "v3" || it.Version != "2" {
			t.Errorf("update items = %+v", u.Items)
		}

		var un struct {
			OK bool `json:"ok"`
		}
		blkJSON(t, blkCall(t, "GET", s.url("/v1.0/configuration/configstore/"+sub.ID+"/unsubscribe"), ""), 200, &un)
		if !un.OK {
			t.Fatal(`unsubscribe did not answer {"ok":true}`)
		}
		// Neither the unsubscribed key nor the never-subscribed one may
		// reach the app any more.
		if err := rdb.MSet(ctx, keyA, "v4||3", keyB, "v5").Err(); err != nil {
			t.Fatal(err)
		}
		select {
		case u := <-app.updates:
			t.Errorf("update after unsubscribe: %s %+v", u.path, u.Items)
		case <-time.After(500 * time.Millisecond):
		}
	})
}

// blkAwaitUpdate sets key to value||version until the app gets an update
// with that value. The write and the keyspace setting are repeated because
// another test on the same Redis may switch notifications off meanwhile.
func blkAwaitUpdate(t *testing.T, rdb *goredis.Client, app *blkConfigApp, key, value, version string) blkConfigUpdate {
	t.Helper()
	ctx := context.Background()
	for range 5 {
		if err := rdb.ConfigSet(ctx, "notify-keyspace-events", "KA").Err(); err != nil {
			t.Fatal(err)
		}
		if err := rdb.Set(ctx, key, value+"||"+version, 0).Err(); err != nil {
			t.Fatal(err)
		}
		timeout := time.After(time.Second)
		for {
			select {
			case u := <-app.updates:
				if _, ok := u.Items[key]; !ok {
					t.Errorf("update of keys not subscribed to: %s %+v", u.path, u.Items)
				}
				if u.Items[key].Value == value {
					return u
				}
				continue
			case <-timeout:
			}
			break
		}
	}
	t.Fatalf("the app got no update of %s within 5 s", key)
	return blkConfigUpdate{}
}
