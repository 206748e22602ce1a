// Package jetstream is the pubsub.jetstream broker: NATS JetStream with
// Dapr's component metadata. Topics are subjects; the streams that capture
// them are the operator's (found by subject, or named by streamName), as in
// Dapr. Each subscription is a push consumer filtered on its topic, durable
// when durableName is set and load-balanced when queueGroupName is set.
package jetstream

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/outrigger/outrigger/internal/pubsub"
)

func init() {
	pubsub.Registry.Register("pubsub.jetstream", func() pubsub.Broker { return New() })
}

// headerContentType carries the publisher's content type. Dapr's component
// sends no headers and ignores them, so messages stay readable both ways.
const headerContentType = "Content-Type"

var errClosed = errors.New("jetstream: broker is closed")

// Broker is the JetStream pub/sub: one NATS connection, reconnected forever
// by the client library, shared by publishing and every subscription.
type Broker struct {
	log *slog.Logger
	cfg config
	nc  *nats.Conn
	js  jetstream.JetStream

	mu     sync.Mutex
	subs   map[*subscription]struct{}
	closed bool
	// wg waits for every subscription's goroutine.
	wg sync.WaitGroup
}

// New returns an un-initialised broker.
func New() *Broker {
	return &Broker{
		log:  slog.Default().With("component", "pubsub.jetstream"),
		subs: map[*subscription]struct{}{},
	}
}

// Init parses the metadata, connects and checks that JetStream is enabled.
func (b *Broker) Init(ctx context.Context, md pubsub.Metadata) error {
	cfg, err := parseConfig(md.Properties)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	b.cfg = cfg
	if md.Name != "" {
		b.log = b.log.With("name", md.Name)
	}
	opts, err := b.options()
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	nc, err := nats.Connect(cfg.url, opts...)
	if err != nil {
		return fmt.Errorf("jetstream: connect to %s: %w", redactURLs(cfg.url), err)
	}
	js, err := newJetStream(nc, cfg)
	if err != nil {
		nc.Close()
		return fmt.Errorf("jetstream: %w", err)
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			nc.Close()
			return fmt.Errorf("jetstream: %s: %w", redactURLs(cfg.url), err)
		}
		// Accounts may lack permission for the info call; consumers and
		// publishing can still work.
		b.log.Warn("JetStream account info unavailable", "error", err)
	}
	b.nc, b.js = nc, js
	return nil
}

// options builds the NATS connection options from the metadata.
func (b *Broker) options() ([]nats.Option, error) {
	c := b.cfg
	opts := []nats.Option{
		nats.Name(c.name),
		// A sidecar outlives broker outages: never give up reconnecting.
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				b.log.Warn("NATS connection lost", "error", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.log.Info("NATS connection re-established", "url", redactURLs(nc.ConnectedUrl()))
			b.reconnected()
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			b.log.Warn("NATS async error", "error", err)
		}),
	}
	switch {
	case c.jwt != "":
		opts = append(opts, nats.UserJWTAndSeed(c.jwt, c.seed))
	case c.token != "":
		opts = append(opts, nats.Token(c.token))
	}
	if c.tlsCert != "" {
		opt, err := clientCert(c.tlsCert, c.tlsKey)
		if err != nil {
			return nil, err
		}
		opts = append(opts, opt)
	}
	return opts, nil
}

// clientCert accepts file paths (Dapr's form) or inline PEM.
func clientCert(cert, key string) (nats.Option, error) {
	if !strings.HasPrefix(cert, "-----BEGIN") {
		return nats.ClientCert(cert, key), nil
	}
	pair, err := tls.X509KeyPair([]byte(cert), []byte(key))
	if err != nil {
		return nil, fmt.Errorf("tls_client_cert/tls_client_key: %w", err)
	}
	return nats.Secure(&tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}), nil
}

func newJetStream(nc *nats.Conn, c config) (jetstream.JetStream, error) {
	switch {
	case c.domain != "":
		return jetstream.NewWithDomain(nc, c.domain)
	case c.apiPrefix != "":
		return jetstream.NewWithAPIPrefix(nc, c.apiPrefix)
	}
	return jetstream.New(nc)
}

// Features is empty, as Dapr's component reports: no broker TTL and no
// wildcard guarantee. Bulk publishing is native nonetheless (BulkPublish).
func (b *Broker) Features() []pubsub.Feature { return nil }

// client returns the JetStream context unless the broker is closed.
func (b *Broker) client() (jetstream.JetStream, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errClosed
	}
	if b.js == nil {
		return nil, errors.New("jetstream: broker is not initialised")
	}
	return b.js, nil
}

// Publish stores one message in the stream that captures the topic. The
// CloudEvent id, when the payload has one, becomes Nats-MsgId so JetStream
// drops duplicates, as Dapr does.
func (b *Broker) Publish(ctx context.Context, req *pubsub.PublishRequest) error {
	js, err := b.client()
	if err != nil {
		return err
	}
	if req.Topic == "" {
		return errors.New("jetstream: topic is empty")
	}
	if _, err := js.PublishMsg(ctx, newMsg(req.Topic, req.Data, req.ContentType), publishOpts(req.Data)...); err != nil {
		return publishError(req.Topic, err)
	}
	return nil
}

func publishError(topic string, err error) error {
	if errors.Is(err, jetstream.ErrNoStreamResponse) {
		return fmt.Errorf("jetstream: publish to %q: no stream captures the subject (or JetStream is unavailable): %w", topic, err)
	}
	return fmt.Errorf("jetstream: publish to %q: %w", topic, err)
}

// BulkPublish sends every entry asynchronously and waits for the acks.
func (b *Broker) BulkPublish(ctx context.Context, req *pubsub.BulkPublishRequest) ([]pubsub.BulkPublishFailure, error) {
	js, err := b.client()
	if err != nil {
		return nil, err
	}
	if req.Topic == "" {
		return nil, errors.New("jetstream: topic is empty")
	}
	var failures []pubsub.BulkPublishFailure
	fail := func(id string, err error) {
		failures = append(failures, pubsub.BulkPublishFailure{EntryID: id, Error: publishError(req.Topic, err)})
	}
	acks := make([]jetstream.PubAckFuture, len(req.Entries))
	for i, e := range req.Entries {
		if err := ctx.Err(); err != nil {
			fail(e.EntryID, err)
			continue
		}
		acks[i], err = js.PublishMsgAsync(newMsg(req.Topic, e.Data, e.ContentType), publishOpts(e.Data)...)
		if err != nil {
			fail(e.EntryID, err)
		}
	}
	for i, ack := range acks {
		if ack == nil {
			continue
		}
		select {
		case <-ack.Ok():
		case err := <-ack.Err():
			fail(req.Entries[i].EntryID, err)
		case <-ctx.Done():
			// It may still be stored; reporting a failure is the safe side.
			fail(req.Entries[i].EntryID, ctx.Err())
		}
	}
	return failures, nil
}

func newMsg(topic string, data []byte, contentType string) *nats.Msg {
	m := nats.NewMsg(topic)
	m.Data = data
	if contentType != "" {
		m.Header.Set(headerContentType, contentType)
	}
	return m
}

func publishOpts(data []byte) []jetstream.PublishOpt {
	if id := cloudEventID(data); id != "" {
		return []jetstream.PublishOpt{jetstream.WithMsgID(id)}
	}
	return nil
}

// cloudEventID returns the "id" of a JSON CloudEvent payload, or "".
func cloudEventID(data []byte) string {
	trimmed := strings.TrimSpace(string(data[:min(len(data), 16)]))
	if !strings.HasPrefix(trimmed, "{") {
		return ""
	}
	var ev struct {
		ID any `json:"id"`
	}
	if json.Unmarshal(data, &ev) != nil {
		return ""
	}
	id, _ := ev.ID.(string)
	return id
}

// reconnected asks every subscription to check that its consumer survived
// the outage (ephemeral consumers are removed after a few idle seconds).
func (b *Broker) reconnected() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		s.notifyReconnect()
	}
}

// Close stops every subscription (in-flight messages finish or are handed
// back first), flushes the acknowledgements and closes the connection.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	subs := make([]*subscription, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.Unlock()
	for _, s := range subs {
		s.cancel()
	}
	b.wg.Wait()
	if b.nc != nil {
		// Acks and naks are buffered publishes; send them before closing.
		if err := b.nc.FlushTimeout(2 * time.Second); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			b.log.Warn("flushing acknowledgements before close", "error", err)
		}
		b.nc.Close()
	}
	return nil
}

// redactURLs hides passwords in a comma-separated NATS URL list.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil || u.User == nil {
			continue
		}
		if _, ok := u.User.Password(); !ok {
			// nats://TOKEN@host: the user part is the secret.
			u.User = url.User("xxxxx")
		}
		parts[i] = u.Redacted()
	}
	return strings.Join(parts, ",")
}
