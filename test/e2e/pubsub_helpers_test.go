package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	// Linked only to learn which broker types the binary (built from the
	// same tree) registers, so tests for brokers still being written skip.
	_ "github.com/outrigger/outrigger/internal/components/builtin"
	"github.com/outrigger/outrigger/internal/pubsub"
)

// requireBrokerType skips when the binary does not link the broker type
// yet.
func requireBrokerType(t *testing.T, typ string) {
	t.Helper()
	if !brokerRegistered(typ) {
		t.Skipf("%s is not linked into the binary yet (known: %v)", typ, pubsub.Registry.Types())
	}
}

// brokerRegistered reports whether the binary links the broker type.
func brokerRegistered(typ string) bool {
	return slices.Contains(pubsub.Registry.Types(), typ)
}

// psEnv is one test's pub/sub setup: a broker, the component metadata
// every sidecar of the test shares, and the test's unique topic names
// (removed from the broker when the test ends).
type psEnv struct {
	t      *testing.T
	kind   *brokerKind
	prefix string
	meta   map[string]string
	mu     sync.Mutex
	topics []string
}

// newEnv sets up the broker for one test.
func newEnv(t *testing.T, kind *brokerKind) *psEnv {
	t.Helper()
	requireBrokerType(t, kind.typ)
	e := &psEnv{t: t, kind: kind, prefix: "e2e" + strings.ReplaceAll(uuid.NewString()[:13], "-", "")}
	e.meta = kind.setup(t, e.prefix)
	t.Cleanup(func() {
		if kind.cleanup != nil {
			kind.cleanup(t, e.prefix, e.topics)
		}
	})
	return e
}

// topic returns a topic name unique to this test.
func (e *psEnv) topic(name string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	tp := e.prefix + "." + name
	e.topics = append(e.topics, tp)
	return tp
}

// appID returns an app id unique to this test, so consumer groups and
// name resolution never mix runs.
func (e *psEnv) appID(name string) string {
	return name + "-" + e.prefix[3:11]
}

// component is the pub/sub Component YAML named name with the shared
// metadata plus extra.
func (e *psEnv) component(name string, extra map[string]string) string {
	meta := make(map[string]string, len(e.meta)+len(extra))
	for k, v := range e.meta {
		meta[k] = v
	}
	for k, v := range extra {
		meta[k] = v
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: %s\nspec:\n  type: %s\n  version: v1\n", name, e.kind.typ)
	if len(keys) == 0 {
		b.WriteString("  metadata: []\n")
	} else {
		b.WriteString("  metadata:\n")
	}
	for _, k := range keys {
		fmt.Fprintf(&b, "  - name: %s\n    value: %s\n", k, strconv.Quote(meta[k]))
	}
	return b.String()
}

// resources writes the "pubsub" component (with extra metadata) and any
// further YAML documents into a new directory and returns it.
func (e *psEnv) resources(extra map[string]string, docs ...string) string {
	dir := e.t.TempDir()
	writeFile(e.t, dir, "pubsub.yaml", e.component("pubsub", extra))
	for i, d := range docs {
		writeFile(e.t, dir, "doc"+strconv.Itoa(i)+".yaml", d)
	}
	return dir
}

// peer describes a sidecar with the given resources directory; its
// internal port is picked when it starts (startSidecars).
func (e *psEnv) peer(appID, dir string, appPort int, args ...string) peer {
	return peer{appID: appID, appPort: appPort, args: append([]string{"--resources-path", dir}, args...)}
}

// got is one request the subscriber app received.
type got struct {
	path   string
	header http.Header
	body   []byte
	at     time.Time
}

// event decodes a single delivery's CloudEvent (numbers kept exact).
func (g got) event(t *testing.T) map[string]any {
	t.Helper()
	return decodeJSON(t, g.body)
}

func decodeJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := jsonDecoder(b).Decode(&m); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, b)
	}
	return m
}

func jsonDecoder(b []byte) *json.Decoder {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec
}

// dataField is a string field of a CloudEvent's JSON data ("" if absent).
func dataField(ev map[string]any, key string) string {
	d, _ := ev["data"].(map[string]any)
	s, _ := d[key].(string)
	return s
}

// subApp is an HTTP app with subscriptions: it serves /dapr/subscribe,
// /healthz (switchable), and records every other request, answering with
// answer (200 with an empty body when nil).
type subApp struct {
	subscribe string // body of GET /dapr/subscribe; "" answers 404
	answer    func(g got) (int, string)
	delay     time.Duration // before answering a delivery
	unhealthy atomic.Bool
	ch        chan got
}

func newSubApp(subscribe string) *subApp {
	return &subApp{subscribe: subscribe, ch: make(chan got, 4096)}
}

func (a *subApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/dapr/subscribe":
		if a.subscribe == "" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, a.subscribe)
		return
	case "/healthz":
		if a.unhealthy.Load() {
			w.WriteHeader(500)
		}
		return
	}
	body, _ := io.ReadAll(r.Body)
	g := got{path: r.URL.Path, header: r.Header.Clone(), body: body, at: time.Now()}
	select {
	case a.ch <- g:
	default:
		panic("subApp: too many deliveries recorded")
	}
	if a.delay > 0 {
		time.Sleep(a.delay)
	}
	code, out := 200, ""
	if a.answer != nil {
		code, out = a.answer(g)
	}
	if out != "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(code)
	_, _ = io.WriteString(w, out)
}

// wait returns the next n requests, failing after timeout.
func (a *subApp) wait(t *testing.T, n int, timeout time.Duration) []got {
	t.Helper()
	out := make([]got, 0, n)
	deadline := time.After(timeout)
	for len(out) < n {
		select {
		case g := <-a.ch:
			out = append(out, g)
		case <-deadline:
			t.Fatalf("received %d of %d deliveries within %v: %s", len(out), n, timeout, describe(out))
		}
	}
	return out
}

// quiet fails if a request arrives within d.
func (a *subApp) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case g := <-a.ch:
		t.Fatalf("unexpected delivery to %s: %s", g.path, g.body)
	case <-time.After(d):
	}
}

func describe(gs []got) string {
	parts := make([]string, len(gs))
	for i, g := range gs {
		parts[i] = g.path + " " + string(g.body)
	}
	return strings.Join(parts, "; ")
}

// publish sends one event through s; query is the raw query string.
func publish(t *testing.T, s *sidecar, pubsubName, topic, contentType, body, query string) response {
	t.Helper()
	u := s.url("/v1.0/publish/" + pubsubName + "/" + url.PathEscape(topic))
	if query != "" {
		u += "?" + query
	}
	return call(t, "POST", u, body, map[string]string{"Content-Type": contentType})
}

// mustPublish publishes and fails unless the sidecar answers 204.
func mustPublish(t *testing.T, s *sidecar, pubsubName, topic, contentType, body string) {
	t.Helper()
	if r := publish(t, s, pubsubName, topic, contentType, body, ""); r.status != 204 {
		t.Fatalf("publish to %s: status %d: %s", topic, r.status, r.body)
	}
}

// metadataSubscription is one entry of GET /v1.0/metadata subscriptions.
type metadataSubscription struct {
	PubsubName      string            `json:"pubsubname"`
	Topic           string            `json:"topic"`
	Metadata        map[string]string `json:"metadata"`
	DeadLetterTopic string            `json:"deadLetterTopic"`
	Type            string            `json:"type"`
	Rules           []struct {
		Match string `json:"match"`
		Path  string `json:"path"`
	} `json:"rules"`
}

func subscriptionsOf(t *testing.T, s *sidecar) []metadataSubscription {
	t.Helper()
	r := call(t, "GET", s.url("/v1.0/metadata"), "", nil)
	if r.status != 200 {
		t.Fatalf("metadata: status %d: %s", r.status, r.body)
	}
	var md struct {
		Subscriptions []metadataSubscription `json:"subscriptions"`
	}
	if err := json.Unmarshal(r.body, &md); err != nil {
		t.Fatalf("metadata: %v: %s", err, r.body)
	}
	return md.Subscriptions
}

// jsonString quotes s for embedding in JSON.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
