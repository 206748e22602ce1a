package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

func TestSelectParts(t *testing.T) {
	memory, sqlite, redis := brokerKinds[0], brokerKinds[1], brokerKinds[2]
	tests := []struct {
		cases string
		kind  brokerKind
		want  []string
	}{
		{"", memory, []string{"publish", "e2e", "bulk"}},
		{"", sqlite, []string{"publish", "e2e", "durability"}},
		{"", redis, []string{"publish", "e2e"}},
		{"pubsub/memory", sqlite, nil},
		{"bulk", memory, []string{"bulk"}},
		{"bulk", sqlite, nil},
		{"pubsub/.*/e2e", redis, []string{"e2e"}},
		{"memory/http", memory, nil}, // a state case name selects no pub/sub part
	}
	for _, tt := range tests {
		got := sortedKeys(selectParts(regexp.MustCompile(tt.cases), tt.kind))
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("cases %q on %s: %v, want %v", tt.cases, tt.kind.name, got, tt.want)
		}
	}
}

func TestAppendMsgIsJSON(t *testing.T) {
	for _, m := range []psMsg{{}, {P: 3, N: 12345, T: 987654321}, {P: 1, N: 1 << 40, T: -5}} {
		var got psMsg
		if err := json.Unmarshal(appendMsg(nil, m), &got); err != nil || got != m {
			t.Errorf("%+v: decoded %+v, err %v", m, got, err)
		}
	}
}

// post sends body to the app and returns the status and answer.
func post(t *testing.T, port int, path, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post("http://127.0.0.1:"+strconv.Itoa(port)+path, "application/cloudevents+json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func TestSubAppCountsDeliveries(t *testing.T) {
	subs := []byte(`[{"pubsubname":"ps","topic":"t","route":"/events"}]`)
	app, err := startSubApp(subs)
	if err != nil {
		t.Fatal(err)
	}
	defer app.close()
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(app.port) + "/dapr/subscribe")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, subs) {
		t.Errorf("/dapr/subscribe = %s", got)
	}

	s := app.track(7)
	sent := int64(time.Since(app.base))
	event := func(p int, n int64) string {
		return `{"specversion":"1.0","id":"x","topic":"t","data":` + string(appendMsg(nil, psMsg{P: p, N: n, T: sent})) + `}`
	}
	for _, n := range []int64{0, 1, 1, 2} {
		if code, answer := post(t, app.port, "/events", event(7, n)); code != 200 || string(answer) != `{"status":"SUCCESS"}` {
			t.Fatalf("delivery %d: %d %s", n, code, answer)
		}
	}
	post(t, app.port, "/events", event(99, 0)) // no such phase: a stray
	if code, _ := post(t, app.port, "/events", "not json"); code != http.StatusBadRequest {
		t.Errorf("malformed delivery answered %d", code)
	}

	bulk := `{"id":"b","entries":[{"entryId":"e3","event":` + event(7, 3) + `},{"entryId":"e4","event":` + event(7, 4) + `}]}`
	code, answer := post(t, app.port, "/bulk", bulk)
	var statuses struct{ Statuses []bulkStatus }
	if err := json.Unmarshal(answer, &statuses); code != 200 || err != nil {
		t.Fatalf("bulk: %d %s (%v)", code, answer, err)
	}
	if len(statuses.Statuses) != 2 || statuses.Statuses[1] != (bulkStatus{"e4", "SUCCESS"}) {
		t.Errorf("bulk statuses %+v", statuses.Statuses)
	}

	unique, dups, lat, last := s.snapshot()
	if unique != 5 || dups != 1 || len(lat) != 5 {
		t.Errorf("unique %d dups %d latencies %d, want 5, 1, 5", unique, dups, len(lat))
	}
	if lat[0] <= 0 || last < time.Duration(sent) {
		t.Errorf("latency %v, last %v (sent at %v)", lat[0], last, time.Duration(sent))
	}
	if app.strays.Load() != 1 || app.bad.count != 1 {
		t.Errorf("strays %d, bad %d; want 1, 1", app.strays.Load(), app.bad.count)
	}
}

// fakePublishAPI answers publishes like a sidecar and keeps the bodies.
type fakePublishAPI struct {
	mu     sync.Mutex
	paths  []string
	bodies [][]byte
	status int
}

func (f *fakePublishAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.paths = append(f.paths, r.URL.Path)
	f.bodies = append(f.bodies, b)
	f.mu.Unlock()
	w.WriteHeader(f.status)
}

func serverPort(t *testing.T, url string) int {
	t.Helper()
	_, port, _ := strings.Cut(strings.TrimPrefix(url, "http://"), ":")
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPublisher(t *testing.T) {
	api := &fakePublishAPI{status: http.StatusNoContent}
	srv := httptest.NewServer(api)
	defer srv.Close()
	p := newPublisher(srv.Client(), serverPort(t, srv.URL), "top.ic", time.Now(), 4)
	ctx := context.Background()
	if err := p.publish(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := p.publishBulk(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if p.accepted() != 1+bulkEntries || p.issued() != 1+bulkEntries {
		t.Errorf("accepted %d issued %d", p.accepted(), p.issued())
	}
	if api.paths[0] != "/v1.0/publish/ps/top.ic" || api.paths[1] != "/v1.0-alpha1/publish/bulk/ps/top.ic" {
		t.Errorf("paths %v", api.paths)
	}
	var single psMsg
	if err := json.Unmarshal(api.bodies[0], &single); err != nil || single.P != 4 || single.N != 0 {
		t.Errorf("single body %s (%v)", api.bodies[0], err)
	}
	var entries []struct {
		EntryID     string `json:"entryId"`
		ContentType string `json:"contentType"`
		Event       psMsg  `json:"event"`
	}
	if err := json.Unmarshal(api.bodies[1], &entries); err != nil || len(entries) != bulkEntries {
		t.Fatalf("bulk body: %d entries, %v", len(entries), err)
	}
	last := entries[bulkEntries-1]
	if last.EntryID != strconv.Itoa(bulkEntries) || last.Event.N != bulkEntries || last.ContentType != "application/json" {
		t.Errorf("last entry %+v", last)
	}

	api.status = http.StatusInternalServerError
	if err := p.publish(ctx, 0); err == nil {
		t.Error("a 500 counted as published")
	}
	if p.accepted() != 1+bulkEntries || p.issued() != 2+bulkEntries {
		t.Errorf("after a failure: accepted %d issued %d", p.accepted(), p.issued())
	}
}

func TestSubscriptionsJSON(t *testing.T) {
	topics := psTopics{publish: "x.pub", e2e: "x.e2e", bulk: "x.bulk", durable: "x.dur"}
	type sub struct {
		PubsubName    string `json:"pubsubname"`
		Topic, Route  string
		BulkSubscribe *struct {
			Enabled            bool
			MaxMessagesCount   int
			MaxAwaitDurationMs int
		}
	}
	for _, k := range brokerKinds {
		b, err := subscriptionsJSON(k, topics)
		if err != nil {
			t.Fatal(err)
		}
		var subs []sub
		if err := json.Unmarshal(b, &subs); err != nil {
			t.Fatal(err)
		}
		if len(subs) != len(topics.subscribed(k)) {
			t.Fatalf("%s: %s", k.name, b)
		}
		for _, s := range subs {
			if s.PubsubName != pubsubName || s.Topic == topics.publish {
				t.Errorf("%s: %+v", k.name, s)
			}
			bulk := s.Topic == topics.bulk
			if bulk != (s.BulkSubscribe != nil) || (bulk && (s.Route != "/bulk" || s.BulkSubscribe.MaxMessagesCount != 100 || s.BulkSubscribe.MaxAwaitDurationMs != 20)) {
				t.Errorf("%s: %s", k.name, b)
			}
		}
	}
}

func TestComponentYAML(t *testing.T) {
	tests := []struct {
		kind brokerKind
		want map[string]string
	}{
		{brokerKinds[0], map[string]string{}},
		{brokerKinds[1], map[string]string{"connectionString": "/tmp/x/ps.db"}},
		{brokerKinds[2], map[string]string{"redisHost": "127.0.0.1:6379", "redeliverInterval": "15s", "processingTimeout": "60s"}},
	}
	for _, tt := range tests {
		var c struct {
			Kind     string
			Metadata struct{ Name string }
			Spec     struct {
				Type     string
				Version  string
				Metadata []struct{ Name, Value string }
			}
		}
		src := componentYAML(tt.kind, "/tmp/x", "127.0.0.1:6379")
		if err := yaml.Unmarshal([]byte(src), &c); err != nil {
			t.Fatalf("%s: %v\n%s", tt.kind.name, err, src)
		}
		got := map[string]string{}
		for _, m := range c.Spec.Metadata {
			got[m.Name] = m.Value
		}
		if c.Kind != "Component" || c.Metadata.Name != pubsubName || c.Spec.Type != tt.kind.typ || c.Spec.Version != "v1" || len(got) != len(tt.want) {
			t.Errorf("%s: %+v", tt.kind.name, c)
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q", tt.kind.name, k, got[k], v)
			}
		}
	}
}

func TestNewTopicsUnique(t *testing.T) {
	a, err := newTopics()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newTopics()
	if a.e2e == b.e2e || !strings.HasPrefix(a.e2e, "bench") || !strings.HasSuffix(a.durable, ".dur") {
		t.Errorf("topics %+v and %+v", a, b)
	}
}

func TestRespCommand(t *testing.T) {
	got := string(respCommand([]string{"DEL", "a.b", ""}))
	if want := "*3\r\n$3\r\nDEL\r\n$3\r\na.b\r\n$0\r\n\r\n"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}

// fakeRedis answers each connection's first command with reply.
func fakeRedis(t *testing.T, reply string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = bufio.NewReader(c).ReadString('\n')
			_, _ = io.WriteString(c, reply)
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func TestRedisCommands(t *testing.T) {
	if err := redisPing(fakeRedis(t, "+PONG\r\n")); err != nil {
		t.Errorf("ping: %v", err)
	}
	if err := redisDel(fakeRedis(t, ":2\r\n"), "a", "b"); err != nil {
		t.Errorf("del: %v", err)
	}
	if err := redisDel(fakeRedis(t, "-ERR nope\r\n"), "a"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("error reply: %v", err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if err := redisPing(addr); err == nil {
		t.Error("ping of a closed port succeeded")
	}
	t.Setenv("CI", "")
	if skip, err := redisAvailable(addr); err != nil || !strings.Contains(skip, "unreachable") {
		t.Errorf("unreachable outside CI: skip %q, err %v", skip, err)
	}
	t.Setenv("CI", "true")
	if _, err := redisAvailable(addr); err == nil {
		t.Error("unreachable Redis in CI is not an error")
	}
	if skip, err := redisAvailable(""); err != nil || skip == "" {
		t.Errorf("-redis \"\": skip %q, err %v", skip, err)
	}
}

func TestDrainReturnsOnceAllArrived(t *testing.T) {
	app := &subApp{base: time.Now(), sinks: map[int]*sink{}}
	s := app.track(1)
	e := &psEnv{app: app}
	go func() {
		for n := range int64(50) {
			s.add(n, time.Millisecond, app.now())
		}
	}()
	start := time.Now()
	e.drain(context.Background(), s, 50)
	if u, _ := s.counts(); u != 50 || time.Since(start) > drainIdle {
		t.Errorf("drain returned with %d of 50 after %v", u, time.Since(start))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e.drain(ctx, s, 51) // never complete: the cancelled context must end it
}

func TestPubsubTargets(t *testing.T) {
	r := &report{PubsubRate: 1000, Pubsub: []pubsubResult{
		{Broker: "memory", E2E: []e2ePhase{{P50US: 400, SubCPUMSPer1k: 350}, {SubCPUMSPer1k: 100}},
			Bulk: &e2ePhase{DeliveredPerSec: 20000}},
		{Broker: "sqlite", E2E: []e2ePhase{{}, {DeliveredPerSec: 4999}}, Durability: &durabilityResult{Lost: 0}},
		{Broker: "redis", Skipped: "no redis"},
	}}
	got := map[string]string{}
	for _, c := range pubsubTargets(r) {
		got[c.Figure] = c.Result
	}
	want := map[string]string{
		"pubsub/memory e2e p50 at 1000 msg/s":                                     "PASS",
		"pubsub/memory sidecar CPU per message published+delivered at 1000 msg/s": "MISS",
		"pubsub/memory sidecar CPU per message published+delivered at max rate":   "PASS",
		"pubsub/memory delivered msg/s, bulk subscribe":                           "PASS", // exactly the target
		"pubsub/sqlite delivered msg/s at max rate":                               "MISS",
		"pubsub/sqlite messages lost across kill -9":                              "PASS",
	}
	if len(got) != len(want) {
		t.Fatalf("targets %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	// Latency from a run whose publisher fell behind its schedule is not
	// judged; the CPU figures still are.
	lagged := float64(noisySendLagUS + 1)
	r.Pubsub[0].E2E[0].SendLagP99US = &lagged
	for _, c := range pubsubTargets(r) {
		want := got[c.Figure]
		if c.Figure == "pubsub/memory e2e p50 at 1000 msg/s" {
			want = "NOISY"
		}
		if c.Result != want {
			t.Errorf("lagged run: %s = %q, want %q", c.Figure, c.Result, want)
		}
	}
	// Parts that did not run are n/a, not PASS.
	r.Pubsub = []pubsubResult{{Broker: "memory"}, {Broker: "sqlite"}}
	for _, c := range pubsubTargets(r) {
		if c.Result != "n/a" {
			t.Errorf("%s = %s with nothing measured", c.Figure, c.Result)
		}
	}
}

func TestPrintPubsubTable(t *testing.T) {
	lag := 80.0
	r := &report{Suite: "pubsub", Concurrency: 16, PubsubRate: 1000, PubsubOpenSeconds: 10, PubsubLoadSeconds: 3,
		Pubsub: []pubsubResult{
			{Broker: "memory", SameSidecar: true, Publish: &publishFigures{PerSec: 20000, PubCPUMSPer1k: 40},
				E2E: []e2ePhase{{Load: "open 1000 msg/s", Published: 10000, Delivered: 10000, P50US: 385, P99US: 25000, SendLagP99US: &lag}}},
			{Broker: "sqlite", Durability: &durabilityResult{Messages: 20000, Published: 20000, KilledAtPublished: 10100,
				KilledAtDelivered: 10000, Delivered: 20000, Duplicates: 75}, Errors: 1, ErrorSamples: []string{"boom"}},
			{Broker: "redis", Skipped: "Redis unreachable"},
		}}
	r.Targets = checkTargets(r)
	var b bytes.Buffer
	if err := printTable(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"385 µs", "25.0 ms", "10100/10000", "skipped: Redis unreachable", "≥ 20000 msg/s",
		"about 400 µs CPU per message", "NOT measured", "pubsub/sqlite: boom", "Errors: 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Startup:") || strings.Contains(out, "Service invocation") {
		t.Error("a pubsub-only run printed other suites")
	}
}
