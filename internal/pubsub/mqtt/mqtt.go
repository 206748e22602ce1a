// Package mqtt is the pubsub.mqtt3 broker (alias pubsub.mqtt): MQTT 3.1.1
// with Dapr's component metadata. One client connection, whose client id
// is consumerID, publishes and subscribes. Messages are acknowledged only
// after the handler succeeded, so with QoS 1 and a persistent session
// (cleanSession false, the default) the broker resends unacknowledged ones
// when the same client id connects again. MQTT 3.1.1 carries no headers:
// content type and publisher metadata do not travel, the payload is sent
// byte-exact.
package mqtt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/outrigger/outrigger/internal/pubsub"
)

func init() {
	for _, name := range []string{"pubsub.mqtt3", "pubsub.mqtt"} {
		pubsub.Registry.Register(name, func() pubsub.Broker { return New() })
	}
}

const (
	// defaultWait bounds connecting, publishing and subscribing when the
	// caller's context has no deadline (Dapr waits 20s too).
	defaultWait = 20 * time.Second
	// maxReconnectWait caps paho's reconnect backoff (its default is 10m).
	maxReconnectWait = 30 * time.Second
	// maxParked bounds messages held for topics nobody subscribes to yet.
	maxParked = 10000
)

var errClosed = errors.New("mqtt: broker is closed")

// Broker is the MQTT pub/sub.
type Broker struct {
	log    *slog.Logger
	cfg    config
	client paho.Client

	mu   sync.Mutex
	subs []*subscription // in Subscribe order
	// parked holds messages that arrived before a subscription matched
	// them (a persistent session is replayed as soon as it connects, before
	// the app subscribes). They stay unacknowledged until handled.
	parked []paho.Message
	closed bool
	done   chan struct{}  // closed by Close; ends waits on paho tokens
	wg     sync.WaitGroup // subscription goroutines
}

// New returns an un-initialised broker.
func New() *Broker {
	return &Broker{log: slog.Default().With("component", "pubsub.mqtt3"), done: make(chan struct{})}
}

// Init parses the metadata and connects.
func (b *Broker) Init(ctx context.Context, md pubsub.Metadata) error {
	cfg, err := parseConfig(md.Properties)
	if err != nil {
		return fmt.Errorf("mqtt: %w", err)
	}
	b.cfg = cfg
	b.log = b.log.With("client_id", cfg.clientID)
	if md.Name != "" {
		b.log = b.log.With("name", md.Name)
	}
	client := paho.NewClient(b.options())
	if err := wait(ctx, client.Connect(), nil); err != nil {
		client.Disconnect(0)
		return fmt.Errorf("mqtt: connect to %s as client %q: %w", redact(cfg.rawURL), cfg.clientID, err)
	}
	b.client = client
	return nil
}

func (b *Broker) options() *paho.ClientOptions {
	c := b.cfg
	opts := paho.NewClientOptions().
		AddBroker(c.broker).
		SetClientID(c.clientID).
		SetUsername(c.username).
		SetPassword(c.password).
		SetCleanSession(c.cleanSession).
		// onMessage never blocks, so in-order dispatch is safe and keeps
		// parked messages in arrival order.
		SetOrderMatters(true).
		SetAutoAckDisabled(true).
		SetDefaultPublishHandler(b.onMessage).
		SetOnConnectHandler(b.onConnect).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			b.log.Warn("MQTT connection lost; reconnecting", "error", err)
		}).
		// Fail Init fast with the real error; reconnect forever afterwards.
		SetConnectRetry(false).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(maxReconnectWait).
		SetResumeSubs(true).
		SetConnectTimeout(10 * time.Second)
	if c.tls != nil {
		opts.SetTLSConfig(c.tls)
	}
	return opts
}

// Features: wildcard topics (+, #) in subscriptions.
func (b *Broker) Features() []pubsub.Feature {
	return []pubsub.Feature{pubsub.FeatureSubscribeWildcards}
}

// Publish sends one message with the configured QoS; metadata "retain"
// overrides the component's retain flag.
func (b *Broker) Publish(ctx context.Context, req *pubsub.PublishRequest) error {
	client, err := b.connection()
	if err != nil {
		return err
	}
	if req.Topic == "" || strings.ContainsAny(req.Topic, "+#") {
		// The broker would drop the connection for a wildcard topic.
		return fmt.Errorf("mqtt: invalid topic %q for publishing", req.Topic)
	}
	retain := b.cfg.retain
	if v := req.Metadata[metaRetain]; v != "" {
		if retain, err = strconv.ParseBool(v); err != nil {
			return fmt.Errorf("mqtt: invalid retain %q: %w", v, err)
		}
	}
	if err := wait(ctx, client.Publish(req.Topic, b.cfg.qos, retain, req.Data), b.done); err != nil {
		return fmt.Errorf("mqtt: publish to %q: %w", req.Topic, err)
	}
	return nil
}

func (b *Broker) connection() (paho.Client, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errClosed
	}
	if b.client == nil {
		return nil, errors.New("mqtt: broker is not initialised")
	}
	return b.client, nil
}

// wait waits for a paho token, bounded by ctx (or defaultWait when ctx has
// no deadline) and by done.
func wait(ctx context.Context, tok paho.Token, done <-chan struct{}) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultWait)
		defer cancel()
	}
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-done:
		return errClosed
	}
}

// onConnect subscribes again after a reconnect: a clean session, or a
// broker that lost the session, has forgotten the subscriptions.
func (b *Broker) onConnect(client paho.Client) {
	b.mu.Lock()
	filters := map[string]byte{}
	for _, s := range b.subs {
		filters[s.filter] = b.cfg.qos
	}
	b.mu.Unlock()
	if len(filters) == 0 {
		return
	}
	// paho runs this handler on its own goroutine; the wait is bounded.
	tok := client.SubscribeMultiple(filters, nil)
	if !tok.WaitTimeout(defaultWait) {
		b.log.Warn("re-subscribing after reconnect timed out")
	} else if err := tok.Error(); err != nil {
		b.log.Warn("re-subscribing after reconnect failed", "error", err)
	}
}

// onMessage routes one incoming message (paho calls it in arrival order and
// it must not block): to the subscription that matches, else to the park.
func (b *Broker) onMessage(_ paho.Client, m paho.Message) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dispatchLocked(m)
}

// dispatchLocked hands m to its subscription or parks it. Once closed,
// messages are dropped unacknowledged: the broker resends them to the
// session's next connection.
func (b *Broker) dispatchLocked(m paho.Message) {
	if b.closed {
		return
	}
	if s := b.routeLocked(m.Topic()); s != nil {
		s.startLocked(m)
		return
	}
	if len(b.parked) >= maxParked {
		b.log.Warn("no subscription for topic and too many messages held; leaving it unacknowledged", "topic", m.Topic())
		return
	}
	b.parked = append(b.parked, m)
}

// routeLocked picks the live subscription for topic: an exact filter first,
// then the first wildcard filter that matches (a client receives one copy
// even when several of its filters match).
func (b *Broker) routeLocked(topic string) *subscription {
	var wildcard *subscription
	for _, s := range b.subs {
		if s.ctx.Err() != nil {
			continue
		}
		if s.match == topic {
			return s
		}
		if wildcard == nil && matches(s.match, topic) {
			wildcard = s
		}
	}
	return wildcard
}

// unparkLocked hands parked messages to the subscriptions now matching them.
func (b *Broker) unparkLocked() {
	kept := b.parked[:0]
	for _, m := range b.parked {
		if s := b.routeLocked(m.Topic()); s != nil {
			s.startLocked(m)
			continue
		}
		kept = append(kept, m)
	}
	clear(b.parked[len(kept):])
	b.parked = kept
}

// Close stops every subscription (running handlers are cancelled and
// waited for; their messages stay unacknowledged) and disconnects.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.done)
	subs := append([]*subscription(nil), b.subs...)
	b.parked = nil
	b.mu.Unlock()
	for _, s := range subs {
		s.cancel()
	}
	b.wg.Wait()
	if b.client != nil {
		b.client.Disconnect(250)
	}
	return nil
}
