package redis

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/pubsub/pubsubtest"
	"github.com/outrigger/outrigger/internal/redisconf"
	"github.com/outrigger/outrigger/internal/testutil"
)

const testAddr = "127.0.0.1:6379"

// testEnv is one test's view of the shared server: a raw client, a
// component name unique to the test (its connections are named after it),
// and the streams the test touched, deleted at the end.
type testEnv struct {
	raw  *goredis.Client
	name string
	id   string

	mu      sync.Mutex
	streams map[string]bool
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	testutil.RequireService(t, "Redis", testAddr)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	e := &testEnv{
		raw:     goredis.NewClient(&goredis.Options{Addr: testAddr}),
		name:    "pubsub-test-" + id,
		id:      id,
		streams: map[string]bool{},
	}
	t.Cleanup(func() {
		e.mu.Lock()
		keys := make([]string, 0, len(e.streams))
		for k := range e.streams {
			keys = append(keys, k)
		}
		e.mu.Unlock()
		if len(keys) > 0 {
			if err := e.raw.Del(context.Background(), keys...).Err(); err != nil {
				t.Errorf("deleting test streams: %v", err)
			}
		}
		_ = e.raw.Close()
	})
	return e
}

// topic returns a stream name unique to the test.
func (e *testEnv) topic(name string) string {
	s := "outrigger-test-" + e.id + "-" + name
	e.track(s)
	return s
}

func (e *testEnv) track(stream string) {
	e.mu.Lock()
	e.streams[stream] = true
	e.mu.Unlock()
}

// metadata is the test configuration: short redelivery settings so
// redelivery tests take about a second.
func (e *testEnv) metadata(consumerID string, extra map[string]string) pubsub.Metadata {
	props := map[string]string{
		"redisHost":         testAddr,
		"consumerID":        consumerID,
		"redeliverInterval": "500ms",
		"processingTimeout": "1s",
	}
	maps.Copy(props, extra)
	return pubsub.Metadata{Name: e.name, Properties: props}
}

// open initialises a broker and closes it when the test ends.
func (e *testEnv) open(t *testing.T, consumerID string, extra map[string]string) *Broker {
	t.Helper()
	b := New().(*Broker)
	if err := b.Init(t.Context(), e.metadata(consumerID, extra)); err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// killConnections closes every server connection of the component, as a
// server restart or a network failure would.
func (e *testEnv) killConnections(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	name := redisconf.ClientName("outrigger-pubsub", e.name)
	list, err := e.raw.ClientList(ctx).Result()
	if err != nil {
		t.Fatalf("CLIENT LIST: %v", err)
	}
	killed := 0
	sc := bufio.NewScanner(strings.NewReader(list))
	for sc.Scan() {
		fields := map[string]string{}
		for _, f := range strings.Fields(sc.Text()) {
			if k, v, ok := strings.Cut(f, "="); ok {
				fields[k] = v
			}
		}
		if fields["name"] != name {
			continue
		}
		if err := e.raw.Do(ctx, "CLIENT", "KILL", "ID", fields["id"]).Err(); err != nil {
			t.Fatalf("CLIENT KILL ID %s: %v", fields["id"], err)
		}
		killed++
	}
	if killed == 0 {
		t.Fatalf("no connection named %q to kill", name)
	}
	t.Logf("killed %d connections named %q", killed, name)
}

// recorder notes the topics the conformance suite uses, so their streams
// are deleted afterwards.
type recorder struct {
	pubsub.Broker
	env *testEnv
}

func (r recorder) Publish(ctx context.Context, req *pubsub.PublishRequest) error {
	r.env.track(req.Topic)
	return r.Broker.Publish(ctx, req)
}

func (r recorder) Subscribe(ctx context.Context, req pubsub.SubscribeRequest, h pubsub.Handler) error {
	r.env.track(req.Topic)
	return r.Broker.Subscribe(ctx, req, h)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	md := e.metadata("", nil)
	delete(md.Properties, pubsub.MetaConsumerID) // the suite sets it
	pubsubtest.Run(t, pubsubtest.Config{
		New:               func() pubsub.Broker { return recorder{Broker: New(), env: e} },
		Metadata:          md,
		Durable:           true,
		ConsumerGroups:    true,
		RedeliveryTimeout: 5 * time.Second,
		Restart:           e.killConnections,
	})
}

// inbox collects deliveries for the focused tests.
type inbox struct {
	mu   sync.Mutex
	msgs []pubsub.Message
	got  chan struct{}
}

func newInbox() *inbox { return &inbox{got: make(chan struct{}, 1000)} }

func (in *inbox) handle(_ context.Context, m *pubsub.Message) error {
	in.mu.Lock()
	in.msgs = append(in.msgs, *m)
	in.mu.Unlock()
	in.got <- struct{}{}
	return nil
}

// wait returns the first n deliveries, failing the test after timeout.
func (in *inbox) wait(t *testing.T, n int, timeout time.Duration) []pubsub.Message {
	t.Helper()
	deadline := time.After(timeout)
	for i := 0; i < n; i++ {
		select {
		case <-in.got:
		case <-deadline:
			t.Fatalf("%d of %d messages delivered within %s", i, n, timeout)
		}
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]pubsub.Message(nil), in.msgs[:n]...)
}

func subscribe(t *testing.T, b *Broker, topic string, h pubsub.Handler) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := b.Subscribe(ctx, pubsub.SubscribeRequest{Topic: topic}, h); err != nil {
		cancel()
		t.Fatalf("Subscribe(%s): %v", topic, err)
	}
	return cancel
}
