package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hotReloadApp is an app with a slow method and a subscription route.
type hotReloadApp struct {
	delivered chan string
}

func (a *hotReloadApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/slow":
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, "slow done")
	case "/hr-orders":
		body, _ := io.ReadAll(r.Body)
		select {
		case a.delivered <- string(body):
		default:
		}
	default:
		http.NotFound(w, r)
	}
}

// hotReloadStore is a state.in-memory component; extra adds a metadata item.
func hotReloadStore(name, extra string) string {
	meta := "  metadata: []\n"
	if extra != "" {
		meta = "  metadata:\n  - name: " + extra + "\n    value: \"1\"\n"
	}
	return fmt.Sprintf("apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: %s\nspec:\n  type: state.in-memory\n  version: v1\n%s", name, meta)
}

// TestHotReload changes the resource files of a running sidecar (HotReload
// enabled) and checks each change takes effect without a restart.
func TestHotReload(t *testing.T) {
	app := &hotReloadApp{delivered: make(chan string, 64)}
	srv := httptest.NewServer(app)
	defer srv.Close()
	appPort := srv.Listener.Addr().(*net.TCPAddr).Port

	cfgDir, dir := t.TempDir(), t.TempDir()
	writeFile(t, cfgDir, "config.yaml", "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: hr\nspec:\n  features:\n  - name: HotReload\n    enabled: true\n")
	writeFile(t, dir, "pubsub.yaml", "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: hrpubsub\nspec:\n  type: pubsub.in-memory\n  version: v1\n  metadata: []\n")
	// A second store that stays: removing hrstore then makes it "not found"
	// rather than "no state store configured".
	writeFile(t, dir, "other.yaml", hotReloadStore("hrother", ""))
	appID := "hotreload-" + strconv.FormatInt(time.Now().UnixNano()%1_000_000, 10)
	s := start(t, nil, "--app-id", appID, "--app-port", strconv.Itoa(appPort), "--resources-path", dir,
		"--config", filepath.Join(cfgDir, "config.yaml"))
	s.waitStatus(t, "/v1.0/healthz", 204, 30*time.Second)
	const poll = 20 * time.Second
	stateURL := s.url("/v1.0/state/hrstore")

	t.Run("add a state store", func(t *testing.T) {
		writeFile(t, dir, "store.yaml", hotReloadStore("hrstore", ""))
		if !blkWaitFor(poll, func() bool {
			return call(t, "POST", stateURL, `[{"key":"k","value":"v1"}]`, nil).status == 204
		}) {
			t.Fatal("added state store never became usable")
		}
		if r := call(t, "GET", stateURL+"/k", "", nil); r.status != 200 || string(r.body) != `"v1"` {
			t.Fatalf("GET k = %d %s", r.status, r.body)
		}
	})

	t.Run("change its metadata", func(t *testing.T) {
		writeFile(t, dir, "store.yaml", hotReloadStore("hrstore", "hotReloadGeneration"))
		// The new in-memory instance starts empty: k disappears.
		if !blkWaitFor(poll, func() bool { return call(t, "GET", stateURL+"/k", "", nil).status == 204 }) {
			t.Fatal("the old instance still answers after the change")
		}
		if r := call(t, "POST", stateURL, `[{"key":"k","value":"v2"}]`, nil); r.status != 204 {
			t.Fatalf("save on the new instance: %d %s", r.status, r.body)
		}
	})

	t.Run("bad file is rejected and the old store keeps serving", func(t *testing.T) {
		writeFile(t, dir, "bad.yaml", "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: broken\nspec:\n  type: [not a string\n")
		if !blkWaitFor(poll, func() bool { return strings.Contains(s.out.String(), "resource file rejected") }) {
			t.Fatal("bad file was not reported")
		}
		if !strings.Contains(s.out.String(), "bad.yaml") {
			t.Fatal("the report does not name the file")
		}
		if r := call(t, "GET", stateURL+"/k", "", nil); r.status != 200 || string(r.body) != `"v2"` {
			t.Fatalf("store after a bad file: %d %s", r.status, r.body)
		}
		if err := os.Remove(filepath.Join(dir, "bad.yaml")); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("remove the state store", func(t *testing.T) {
		if err := os.Remove(filepath.Join(dir, "store.yaml")); err != nil {
			t.Fatal(err)
		}
		var last response
		if !blkWaitFor(poll, func() bool {
			last = call(t, "GET", stateURL+"/k", "", nil)
			return last.status != 200 && strings.Contains(string(last.body), "ERR_STATE_STORE_NOT_FOUND")
		}) {
			t.Fatalf("removed store still answers: %d %s", last.status, last.body)
		}
	})

	t.Run("add a declarative subscription", func(t *testing.T) {
		writeFile(t, dir, "sub.yaml", "apiVersion: dapr.io/v2alpha1\nkind: Subscription\nmetadata:\n  name: hrsub\nspec:\n  pubsubname: hrpubsub\n  topic: hrtopic\n  routes:\n    default: /hr-orders\n")
		delivered := blkWaitFor(poll, func() bool {
			if r := call(t, "POST", s.url("/v1.0/publish/hrpubsub/hrtopic"), `{"n":1}`, map[string]string{"Content-Type": "application/json"}); r.status != 204 {
				t.Fatalf("publish: %d %s", r.status, r.body)
			}
			select {
			case <-app.delivered:
				return true
			case <-time.After(300 * time.Millisecond):
				return false
			}
		})
		if !delivered {
			t.Fatal("no message delivered through the added subscription")
		}
	})

	t.Run("add a resiliency timeout", func(t *testing.T) {
		slowURL := s.url("/v1.0/invoke/" + appID + "/method/slow")
		if r := call(t, "GET", slowURL, "", nil); r.status != 200 {
			t.Fatalf("slow call before the resiliency: %d %s", r.status, r.body)
		}
		writeFile(t, dir, "resiliency.yaml", fmt.Sprintf("apiVersion: dapr.io/v1alpha1\nkind: Resiliency\nmetadata:\n  name: hrres\nspec:\n  policies:\n    timeouts:\n      short: 300ms\n  targets:\n    apps:\n      %s:\n        timeout: short\n", appID))
		var last response
		var took time.Duration
		if !blkWaitFor(poll, func() bool {
			begin := time.Now()
			last = call(t, "GET", slowURL, "", nil)
			took = time.Since(begin)
			return last.status != 200
		}) {
			t.Fatal("the resiliency timeout never applied")
		}
		if took >= 3*time.Second {
			t.Fatalf("the timeout did not cut the call: took %v (status %d %s)", took, last.status, last.body)
		}
	})
}
