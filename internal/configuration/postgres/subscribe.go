package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/outrigger/outrigger/internal/configuration"
)

// metaNotifyChannel is the subscribe request metadata that overrides the
// component's notifyChannel, as in Dapr.
const metaNotifyChannel = "pgNotifyChannel"

// retryDelay is the pause before a lost LISTEN connection is replaced.
const retryDelay = time.Second

// subscription is one running Subscribe: a connection of its own that
// LISTENs, and the goroutine waiting on it.
type subscription struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (sub *subscription) stop() {
	sub.cancel()
	<-sub.done
}

// Subscribe LISTENs on the notify channel and delivers the rows the
// trigger reports for keys (for every key when empty). It returns once
// LISTEN is in effect, so a change committed after it returns is delivered.
func (s *Store) Subscribe(ctx context.Context, keys []string, md map[string]string, handler configuration.UpdateHandler) (string, error) {
	channel := md[metaNotifyChannel]
	if channel == "" {
		channel = s.cfg.notifyChannel
	}
	if channel == "" {
		return "", fmt.Errorf("no notification channel: set metadata notifyChannel on the component or %s in the request", metaNotifyChannel)
	}
	conn, err := s.listen(ctx, channel)
	if err != nil {
		return "", err
	}
	id := uuid.NewString()
	subCtx, cancel := context.WithCancel(s.ctx)
	sub := &subscription{cancel: cancel, done: make(chan struct{})}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		cancel()
		_ = conn.Close(context.Background())
		return "", errors.New("store is closed")
	}
	s.subs[id] = sub
	s.mu.Unlock()

	w := &watcher{s: s, id: id, channel: channel, keys: keySet(keys), handler: handler}
	go w.run(subCtx, conn, sub.done)
	return id, nil
}

// listen takes a connection out of the pool for good and LISTENs on it.
func (s *Store) listen(ctx context.Context, channel string) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	defer cancel()
	pc, err := s.db.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("connecting to listen on %q: %w", channel, err)
	}
	conn := pc.Hijack()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		_ = conn.Close(context.Background())
		return nil, fmt.Errorf("listening on %q: %w", channel, err)
	}
	return conn, nil
}

// Unsubscribe stops a subscription and waits for it to finish.
func (s *Store) Unsubscribe(_ context.Context, id string) error {
	s.mu.Lock()
	sub, ok := s.subs[id]
	delete(s.subs, id)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("subscription %s does not exist", id)
	}
	sub.stop()
	return nil
}

// watcher waits for notifications of one subscription.
type watcher struct {
	s       *Store
	id      string
	channel string
	keys    map[string]bool // empty = every key
	handler configuration.UpdateHandler
}

// run owns conn: it waits for notifications until ctx ends, replacing the
// connection when it breaks (changes made meanwhile are not seen).
func (w *watcher) run(ctx context.Context, conn *pgx.Conn, done chan struct{}) {
	defer close(done)
	defer func() {
		if conn != nil {
			_ = conn.Close(context.Background())
		}
	}()
	for {
		if conn == nil {
			conn = w.reconnect(ctx)
			if conn == nil {
				return
			}
		}
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.s.log.Warn("listening for configuration changes failed; reconnecting", "subscription", w.id, "channel", w.channel, "error", err)
			_ = conn.Close(context.Background())
			conn = nil
			continue
		}
		w.deliver(ctx, n)
	}
}

// reconnect retries LISTEN until it works or ctx ends (then nil).
func (w *watcher) reconnect(ctx context.Context) *pgx.Conn {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(retryDelay):
		}
		conn, err := w.s.listen(ctx, w.channel)
		if err == nil {
			return conn
		}
		if ctx.Err() != nil {
			return nil
		}
		w.s.log.Warn("reconnecting to listen for configuration changes failed", "subscription", w.id, "channel", w.channel, "error", err)
	}
}

// deliver hands the row of one notification to the handler when its key is
// subscribed.
func (w *watcher) deliver(ctx context.Context, n *pgconn.Notification) {
	key, item, err := parseNotification(n.Payload)
	if err != nil {
		w.s.log.Warn("ignoring a configuration notification", "subscription", w.id, "channel", w.channel, "error", err)
		return
	}
	if len(w.keys) > 0 && !w.keys[key] {
		return
	}
	if err := w.handler(ctx, w.id, map[string]*configuration.Item{key: item}); err != nil && ctx.Err() == nil {
		w.s.log.Warn("configuration update handler failed", "subscription", w.id, "key", key, "error", err)
	}
}

// parseNotification reads the row in the payload's "data" member. Column
// names match without regard to case: row_to_json spells them as the
// table does.
func parseNotification(payload string) (string, *configuration.Item, error) {
	var p struct {
		Data map[string]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(payload), &p); err != nil {
		return "", nil, fmt.Errorf("payload is not JSON: %w", err)
	}
	var key string
	var hasKey bool
	item := &configuration.Item{}
	for col, v := range p.Data {
		switch strings.ToLower(col) {
		case "key":
			key, hasKey = jsonText(v), true
		case "value":
			item.Value = jsonText(v)
		case "version":
			item.Version = jsonText(v)
		case "metadata":
			md, err := metadataFromJSON(v)
			if err != nil {
				return "", nil, err
			}
			item.Metadata = md
		}
	}
	if !hasKey {
		return "", nil, errors.New(`payload has no "data" row with a key column`)
	}
	return key, item, nil
}

// metadataFromJSON reads the metadata column as row_to_json renders it: an
// object for json/jsonb, a string holding one for a text column, or null.
func metadataFromJSON(v json.RawMessage) (map[string]string, error) {
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		v = json.RawMessage(s)
	}
	if string(v) == "null" || len(v) == 0 {
		return nil, nil
	}
	md, err := parseMetadata(v)
	if err != nil {
		return nil, fmt.Errorf("metadata column: %w", err)
	}
	return md, nil
}

func keySet(keys []string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}
