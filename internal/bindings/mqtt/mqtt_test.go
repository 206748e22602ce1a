package mqtt

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/bindings/bindingstest"
	"github.com/outrigger/outrigger/internal/testutil"
)

const (
	mqttAddr = "127.0.0.1:1883"
	mqttURL  = "tcp://" + mqttAddr
)

func TestParseConfig(t *testing.T) {
	base := func(kv ...string) map[string]string {
		m := map[string]string{"url": mqttURL, "topic": "t", "consumerID": "app"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		props   map[string]string
		check   func(t *testing.T, c config)
		wantErr string
	}{
		{
			name:  "defaults",
			props: base(),
			check: func(t *testing.T, c config) {
				if c.url != mqttURL || c.topic != "t" || c.clientID != "app" || c.retain || c.cleanSession || c.maxRetries != 0 || len(c.tls) != 0 {
					t.Errorf("unexpected config: %+v", c)
				}
				p := c.clientProps(consumerSuffix)
				if p["consumerID"] != "app-consumer" || p["qos"] != "1" || p["cleanSession"] != "false" {
					t.Errorf("client props = %v", p)
				}
			},
		},
		{
			name:  "values",
			props: base("Retain", "true", "cleanSession", "on", "backOffMaxRetries", "-1", "qos", "0"),
			check: func(t *testing.T, c config) {
				if !c.retain || !c.cleanSession || c.maxRetries != -1 {
					t.Errorf("unexpected config: %+v", c)
				}
				// QoS is fixed at 1 whatever the metadata says.
				if p := c.clientProps(producerSuffix); p["qos"] != "1" || p["retain"] != "true" || p["consumerID"] != "app-producer" {
					t.Errorf("client props = %v", p)
				}
			},
		},
		{name: "missing url", props: map[string]string{"topic": "t", "consumerID": "a"}, wantErr: "missing url"},
		{name: "missing topic", props: map[string]string{"url": mqttURL, "consumerID": "a"}, wantErr: "missing topic"},
		{name: "missing consumerID", props: map[string]string{"url": mqttURL, "topic": "t"}, wantErr: "missing consumerID"},
		{name: "bad scheme", props: base("url", "http://h"), wantErr: "scheme"},
		{name: "bad retries", props: base("backOffMaxRetries", "-2"), wantErr: "backOffMaxRetries"},
		{name: "bad CA", props: base("caCert", "nope"), wantErr: "caCert"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(tt.props)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

// uniqueName returns prefix plus random hex.
func uniqueName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// testEnv is one test's topic and client id, removed at the end: the
// persistent sessions of both connections and any retained message.
type testEnv struct {
	topic, id string
}

func newEnv(t *testing.T) testEnv {
	t.Helper()
	testutil.RequireService(t, "an MQTT broker (Mosquitto)", mqttAddr)
	e := testEnv{topic: uniqueName("outrigger-test/binding/"), id: uniqueName("outrigger-test-")}
	t.Cleanup(func() { e.cleanup(t) })
	return e
}

func (e testEnv) cleanup(t *testing.T) {
	for _, id := range []string{e.id + producerSuffix, e.id + consumerSuffix, e.id + "-cleanup"} {
		c := paho.NewClient(paho.NewClientOptions().AddBroker(mqttURL).SetClientID(id).SetCleanSession(true))
		tok := c.Connect()
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Errorf("removing MQTT session %s: %v", id, tok.Error())
			continue
		}
		if id == e.id+"-cleanup" {
			// An empty retained message clears the retained one.
			c.Publish(e.topic, 1, true, []byte{}).WaitTimeout(5 * time.Second)
		}
		c.Disconnect(100)
	}
}

func (e testEnv) binding(t *testing.T, extra map[string]string) *Binding {
	t.Helper()
	props := map[string]string{"url": mqttURL, "topic": e.topic, "consumerID": e.id}
	maps.Copy(props, extra)
	b := New()
	b.retryWait = 20 * time.Millisecond
	if err := b.Init(context.Background(), bindings.Metadata{Name: "mqtt", Properties: props}); err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

func invoke(t *testing.T, out *Binding, data string, md map[string]string) {
	t.Helper()
	if _, err := out.Invoke(context.Background(), &bindings.InvokeRequest{Operation: bindings.OpCreate, Data: []byte(data), Metadata: md}); err != nil {
		t.Fatalf("Invoke: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	e := newEnv(t)
	out := e.binding(t, nil)
	in := e.binding(t, nil)
	c := bindingstest.NewCollector(10 * time.Second)
	if err := in.Read(t.Context(), c.Handle); err != nil {
		t.Fatal(err)
	}
	invoke(t, out, "hello", nil)
	ev := c.Next(t)
	if string(ev.Data) != "hello" || ev.Metadata["topic"] != e.topic {
		t.Errorf("event = %q %v", ev.Data, ev.Metadata)
	}
}

func TestTopicOverride(t *testing.T) {
	e := newEnv(t)
	other := newEnv(t)
	out := e.binding(t, nil)
	in := other.binding(t, nil)
	c := bindingstest.NewCollector(10 * time.Second)
	if err := in.Read(t.Context(), c.Handle); err != nil {
		t.Fatal(err)
	}
	invoke(t, out, "not for you", nil)
	invoke(t, out, "redirected", map[string]string{"topic": other.topic})
	ev := c.Next(t)
	if string(ev.Data) != "redirected" || ev.Metadata["topic"] != other.topic {
		t.Errorf("event = %q %v", ev.Data, ev.Metadata)
	}
	c.None(t, 200*time.Millisecond)
}

func TestWildcardTopic(t *testing.T) {
	e := newEnv(t)
	out := e.binding(t, nil)
	in := e.binding(t, map[string]string{"topic": e.topic + "/#"})
	c := bindingstest.NewCollector(10 * time.Second)
	if err := in.Read(t.Context(), c.Handle); err != nil {
		t.Fatal(err)
	}
	invoke(t, out, "deep", map[string]string{"topic": e.topic + "/a/b"})
	if ev := c.Next(t); ev.Metadata["topic"] != e.topic+"/a/b" {
		t.Errorf("topic = %q", ev.Metadata["topic"])
	}
}

// A failing event is retried until the app takes it, also past
// backOffMaxRetries.
func TestFailedEventIsRetried(t *testing.T) {
	for _, retries := range []string{"0", "1", "-1"} {
		t.Run("backOffMaxRetries="+retries, func(t *testing.T) {
			e := newEnv(t)
			out := e.binding(t, nil)
			in := e.binding(t, map[string]string{"backOffMaxRetries": retries})
			c := bindingstest.NewCollector(10 * time.Second)
			c.FailFirst = 2
			if err := in.Read(t.Context(), c.Handle); err != nil {
				t.Fatal(err)
			}
			invoke(t, out, "retry me", nil)
			for i := range 3 {
				if ev := c.Next(t); string(ev.Data) != "retry me" {
					t.Fatalf("delivery %d = %q", i+1, ev.Data)
				}
			}
			c.None(t, 300*time.Millisecond)
		})
	}
}

// The engine pauses by cancelling Read's context and resumes with a new
// Read: the persistent session keeps what was published meanwhile.
func TestReadAgainAfterPause(t *testing.T) {
	e := newEnv(t)
	out := e.binding(t, nil)
	in := e.binding(t, nil)
	c := bindingstest.NewCollector(10 * time.Second)
	ctx, cancel := context.WithCancel(t.Context())
	if err := in.Read(ctx, c.Handle); err != nil {
		t.Fatal(err)
	}
	invoke(t, out, "one", nil)
	c.Next(t)
	cancel()

	invoke(t, out, "two", nil)
	c.None(t, 200*time.Millisecond)
	if err := in.Read(t.Context(), c.Handle); err != nil {
		t.Fatalf("second Read: %v", err)
	}
	if ev := c.Next(t); string(ev.Data) != "two" {
		t.Errorf("after resume got %q, want two", ev.Data)
	}
}

func TestRetainPerRequest(t *testing.T) {
	e := newEnv(t)
	out := e.binding(t, nil)
	invoke(t, out, "kept", map[string]string{"retain": "true"})
	in := e.binding(t, nil)
	c := bindingstest.NewCollector(10 * time.Second)
	if err := in.Read(t.Context(), c.Handle); err != nil {
		t.Fatal(err)
	}
	if ev := c.Next(t); string(ev.Data) != "kept" {
		t.Errorf("retained message = %q", ev.Data)
	}
}

func TestClosed(t *testing.T) {
	e := newEnv(t)
	b := e.binding(t, nil)
	if err := b.Read(t.Context(), bindingstest.NewCollector(10*time.Second).Handle); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Read(t.Context(), bindingstest.NewCollector(10*time.Second).Handle); !errors.Is(err, errClosed) {
		t.Errorf("Read after Close: err = %v", err)
	}
	if _, err := b.Invoke(t.Context(), &bindings.InvokeRequest{Operation: bindings.OpCreate}); !errors.Is(err, errClosed) {
		t.Errorf("Invoke after Close: err = %v", err)
	}
}

func TestInvokeErrors(t *testing.T) {
	b := New()
	if _, err := b.Invoke(context.Background(), &bindings.InvokeRequest{Operation: "get"}); err == nil || !strings.Contains(err.Error(), "invalid operation") {
		t.Errorf("unknown operation: err = %v", err)
	}
}
