package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/appchannel"
	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/testutil"
)

// fakeBroker records subscriptions and publishes; tests push messages
// into the subscribed handlers with deliver.
type fakeBroker struct {
	mu        sync.Mutex
	subs      map[string]*fakeSub // by topic, latest subscription
	calls     int                 // Subscribe calls
	published []*pubsub.PublishRequest
}

type fakeSub struct {
	ctx context.Context
	req pubsub.SubscribeRequest
	h   pubsub.Handler
}

func newFakeBroker() *fakeBroker { return &fakeBroker{subs: map[string]*fakeSub{}} }

func (b *fakeBroker) Init(context.Context, pubsub.Metadata) error { return nil }
func (b *fakeBroker) Features() []pubsub.Feature                  { return nil }
func (b *fakeBroker) Close() error                                { return nil }

func (b *fakeBroker) Publish(_ context.Context, req *pubsub.PublishRequest) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.published = append(b.published, req)
	return nil
}

func (b *fakeBroker) Subscribe(ctx context.Context, req pubsub.SubscribeRequest, h pubsub.Handler) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	b.subs[req.Topic] = &fakeSub{ctx: ctx, req: req, h: h}
	return nil
}

func (b *fakeBroker) sub(topic string) *fakeSub {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.subs[topic]
}

// subscribed reports whether topic has a live subscription.
func (b *fakeBroker) subscribed(topic string) bool {
	s := b.sub(topic)
	return s != nil && s.ctx.Err() == nil
}

func (b *fakeBroker) subscribeCalls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls
}

// deliver hands msg to the topic's handler, as a broker worker would.
func (b *fakeBroker) deliver(t *testing.T, topic string, msg *pubsub.Message) error {
	t.Helper()
	s := b.sub(topic)
	if s == nil {
		t.Fatalf("no subscription for topic %q", topic)
	}
	if msg.Topic == "" {
		msg.Topic = topic
	}
	return s.h(s.ctx, msg)
}

func (b *fakeBroker) publishedTo(topic string) []*pubsub.PublishRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*pubsub.PublishRequest
	for _, p := range b.published {
		if p.Topic == topic {
			out = append(out, p)
		}
	}
	return out
}

func newComp(name string, b pubsub.Broker, scopes pubsub.Scopes) *pubsub.Component {
	return pubsub.NewComponent(name, "pubsub.fake", "v1", b, scopes)
}

// cloudEvent builds a JSON CloudEvent with the given extra attributes.
func cloudEvent(t *testing.T, attrs map[string]any) []byte {
	t.Helper()
	ce := map[string]any{
		"id": "evt-1", "source": "publisher", "type": "com.dapr.event.sent", "specversion": "1.0",
		"datacontenttype": "application/json", "data": map[string]any{"qty": 1}, "topic": "orders", "pubsubname": "ps",
	}
	for k, v := range attrs {
		if v == nil {
			delete(ce, k)
			continue
		}
		ce[k] = v
	}
	b, err := json.Marshal(ce)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recorded is one request an HTTP test app received.
type recorded struct {
	method string
	path   string
	header http.Header
	body   []byte
}

// httpApp is an app on httptest whose answers come from respond.
type httpApp struct {
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []recorded
	respond func(w http.ResponseWriter, r *http.Request, body []byte)
}

func newHTTPApp(t *testing.T, respond func(w http.ResponseWriter, r *http.Request, body []byte)) *httpApp {
	t.Helper()
	a := &httpApp{respond: respond}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		a.reqs = append(a.reqs, recorded{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: body})
		a.mu.Unlock()
		a.respond(w, r, body)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// requests lists the requests on path; "" means all but /dapr/subscribe.
func (a *httpApp) requests(path string) []recorded {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []recorded
	for _, r := range a.reqs {
		if r.path == path || (path == "" && r.path != "/dapr/subscribe") {
			out = append(out, r)
		}
	}
	return out
}

// subscribeJSON answers GET /dapr/subscribe with list and everything else
// with 200 and an empty body.
func subscribeJSON(list string) func(w http.ResponseWriter, r *http.Request, body []byte) {
	return func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if r.URL.Path == "/dapr/subscribe" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, list)
		}
	}
}

func (a *httpApp) channel(t *testing.T) appchannel.Channel {
	t.Helper()
	u, err := url.Parse(a.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return channelTo(t, "http", u.Host, 0)
}

func channelTo(t *testing.T, protocol, hostport string, maxConc int) appchannel.Channel {
	t.Helper()
	host, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(p)
	ch, err := appchannel.New(context.Background(), appchannel.Config{Protocol: protocol, Address: host, Port: port, MaxConcurrency: maxConc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	return ch
}

// startEngine builds and starts an engine that is stopped at cleanup.
func startEngine(t *testing.T, cfg Config) *Engine {
	t.Helper()
	if cfg.AppID == "" {
		cfg.AppID = "myapp"
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.backoff = []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return e
}

// waitFor polls cond for up to 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, 5*time.Second, what, cond)
}

// flakyChannel fails the first n calls, then behaves like Channel.
type flakyChannel struct {
	appchannel.Channel
	mu    sync.Mutex
	fails int
	calls int
}

func (c *flakyChannel) Invoke(ctx context.Context, req *appchannel.Request) (*appchannel.Response, error) {
	c.mu.Lock()
	c.calls++
	fail := c.calls <= c.fails
	c.mu.Unlock()
	if fail {
		return nil, errors.New("connection refused")
	}
	return c.Channel.Invoke(ctx, req)
}
