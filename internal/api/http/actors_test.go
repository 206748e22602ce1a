package http_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/outrigger/outrigger/internal/actors"
	"github.com/outrigger/outrigger/internal/actors/actorstest"
	"github.com/outrigger/outrigger/internal/api"
	apihttp "github.com/outrigger/outrigger/internal/api/http"
)

// newActorServer serves the HTTP API over a test actor runtime (nil: no
// placement configured).
func newActorServer(t *testing.T, rt *actors.Runtime) *httptest.Server {
	t.Helper()
	core := api.New(api.Config{AppID: "myapp", Actors: rt, Metadata: api.NewMetadata(api.MetadataInfo{AppID: "myapp", RuntimeVersion: "1.18.3", PlacementConfigured: rt != nil})})
	srv := httptest.NewServer(apihttp.New(apihttp.Config{Core: core}))
	t.Cleanup(srv.Close)
	return srv
}

func TestActorsHTTP(t *testing.T) {
	rt := actorstest.New(t, actorstest.Options{Placement: &actorstest.Placement{
		Foreign: map[string]bool{"remote": true}, NoHost: map[string]bool{"ghost": true},
	}})
	srv := newActorServer(t, rt)
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantCode                 string // errorCode, "" for success
		wantBody                 string // exact body when set
	}{
		{"invoke echoes", "POST", "/v1.0/actors/myactor/a1/method/echo", `{"x":1}`, 200, "", `{"x":1}`},
		{"invoke any verb", "GET", "/v1.0/actors/myactor/a1/method/echo", ``, 200, "", ``},
		{"app actor error relayed", "PUT", "/v1.0/actors/myactor/a1/method/apperror", ``, 400, "", `{"reason":"bad"}`},
		{"app failure", "POST", "/v1.0/actors/myactor/a1/method/fail", ``, 500, "ERR_ACTOR_INVOKE_METHOD", ""},
		{"no host for type", "POST", "/v1.0/actors/ghost/a1/method/m", ``, 404, "ERR_ACTOR_NO_ADDRESS", ""},
		{"bad actor id", "POST", "/v1.0/actors/myactor/a%23b/method/m", ``, 400, "ERR_BAD_REQUEST", ""},
		{"transaction", "POST", "/v1.0/actors/myactor/a1/state", `[{"operation":"upsert","request":{"key":"k1","value":{"n":5}}},{"operation":"delete","request":{"key":"k2"}}]`, 204, "", ""},
		{"get state", "GET", "/v1.0/actors/myactor/a1/state/k1", ``, 200, "", `{"n":5}`},
		{"get missing state", "GET", "/v1.0/actors/myactor/a1/state/nope", ``, 204, "", ""},
		{"transaction on actor hosted elsewhere", "PUT", "/v1.0/actors/remote/a1/state", `[]`, 400, "", `{"errorCode":"ERR_ACTOR_INSTANCE_MISSING","message":"actor instance is missing"}`},
		{"transaction bad json", "POST", "/v1.0/actors/myactor/a1/state", `{`, 400, "ERR_MALFORMED_REQUEST", ""},
		{"ttl needs the feature", "POST", "/v1.0/actors/myactor/a1/state", `[{"operation":"upsert","request":{"key":"k","value":1,"metadata":{"ttlInSeconds":"9"}}}]`, 500, "ERR_ACTOR_STATE_TRANSACTION_SAVE", ""},
		{"reserved type", "GET", "/v1.0/actors/dapr.internal.wf/a1/state/k", ``, 403, "ERR_ACTOR_TYPE_RESERVED", ""},
		{"create reminder", "POST", "/v1.0/actors/myactor/a1/reminders/r1", `{"dueTime":"1h","period":"PT1M","data":{"d":1}}`, 204, "", ""},
		{"get reminder", "GET", "/v1.0/actors/myactor/a1/reminders/r1", ``, 200, "", `{"actorID":"a1","actorType":"myactor","data":{"d":1},"dueTime":"1h","period":"PT1M"}`},
		{"reminder exists", "PUT", "/v1.0/actors/myactor/a1/reminders/r1", `{"dueTime":"1h","overwrite":false}`, 409, "ERR_ACTOR_REMINDER_ALREADY_EXISTS", ""},
		{"reminder overwrite default", "PUT", "/v1.0/actors/myactor/a1/reminders/r1", `{"dueTime":"2h","failure_policy":{"drop":{}}}`, 204, "", ""},
		{"reminder on foreign type", "POST", "/v1.0/actors/other/a1/reminders/r1", `{"dueTime":"1h"}`, 403, "ERR_ACTOR_REMINDER_NON_HOSTED", ""},
		{"delete reminder", "DELETE", "/v1.0/actors/myactor/a1/reminders/r1", ``, 204, "", ""},
		{"get deleted reminder", "GET", "/v1.0/actors/myactor/a1/reminders/r1", ``, 404, "ERR_ACTOR_REMINDER_NOT_FOUND", ""},
		{"create timer", "POST", "/v1.0/actors/myactor/a1/timers/t1", `{"dueTime":"1s","callback":"tick","data":"x"}`, 204, "", ""},
		{"delete timer", "DELETE", "/v1.0/actors/myactor/a1/timers/t1", ``, 204, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, srv, tt.method, tt.path, tt.body, map[string]string{"Content-Type": "application/json"})
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", r.status, tt.wantStatus, r.body)
			}
			if tt.wantCode != "" {
				if got := errorCode(t, r.body); got != tt.wantCode {
					t.Fatalf("errorCode = %q, want %q (%s)", got, tt.wantCode, r.body)
				}
			}
			if tt.wantBody != "" && r.body != tt.wantBody {
				t.Fatalf("body = %s, want %s", r.body, tt.wantBody)
			}
		})
	}
}

func TestActorsHTTPWithoutPlacement(t *testing.T) {
	srv := newActorServer(t, nil)
	r := do(t, srv, "POST", "/v1.0/actors/myactor/a1/method/m", "", nil)
	if r.status != http.StatusBadRequest || errorCode(t, r.body) != "ERR_ACTOR_NO_PLACEMENT" {
		t.Fatalf("got %d %s", r.status, r.body)
	}
}

func TestActorsHTTPWithoutStateStore(t *testing.T) {
	srv := newActorServer(t, actorstest.New(t, actorstest.Options{NoStateStore: true}))
	r := do(t, srv, "GET", "/v1.0/actors/myactor/a1/state/k", "", nil)
	if r.status != http.StatusInternalServerError || errorCode(t, r.body) != "ERR_ACTOR_RUNTIME_NOT_FOUND" {
		t.Fatalf("got %d %s", r.status, r.body)
	}
}

func TestActorsMetadata(t *testing.T) {
	srv := newActorServer(t, actorstest.New(t, actorstest.Options{}))
	if r := do(t, srv, "POST", "/v1.0/actors/myactor/m1/method/x", "", nil); r.status != 200 {
		t.Fatalf("invoke: %d %s", r.status, r.body)
	}
	r := do(t, srv, "GET", "/v1.0/metadata", "", nil)
	var md struct {
		Actors []struct {
			Type  string
			Count int
		} `json:"actors"`
		ActorRuntime struct {
			RuntimeStatus string `json:"runtimeStatus"`
			ActiveActors  []struct {
				Type  string `json:"type"`
				Count int    `json:"count"`
			} `json:"activeActors"`
			HostReady bool `json:"hostReady"`
		} `json:"actorRuntime"`
	}
	if err := json.Unmarshal([]byte(r.body), &md); err != nil {
		t.Fatal(err)
	}
	ar := md.ActorRuntime
	if ar.RuntimeStatus != "RUNNING" || !ar.HostReady || len(ar.ActiveActors) != 1 || ar.ActiveActors[0].Type != "myactor" || ar.ActiveActors[0].Count != 1 {
		t.Fatalf("actorRuntime = %+v (%s)", ar, r.body)
	}
	if len(md.Actors) != 1 || md.Actors[0].Count != 1 {
		t.Fatalf("actors = %+v", md.Actors)
	}
}
