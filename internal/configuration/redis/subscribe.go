package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"

	"github.com/outrigger/outrigger/internal/configuration"
)

const (
	// retryDelay is the pause after a failed read of the notification
	// connection; go-redis reconnects and resubscribes on the next read.
	retryDelay = time.Second
	// pingEvery is how long a quiet connection waits before a PING checks
	// it is still alive (a dead peer without a reset would hang a read).
	pingEvery = time.Minute
	// confirmTimeout bounds the wait for the server's subscribe replies.
	confirmTimeout = 10 * time.Second
)

// subscription is one running Subscribe: its Pub/Sub connection and the
// goroutine reading it.
type subscription struct {
	cancel context.CancelFunc
	ps     *goredis.PubSub
	done   chan struct{}
}

// stop ends the goroutine and waits for it. Closing the Pub/Sub connection
// is what unblocks a pending read; cancelling tells the goroutine it was
// on purpose.
func (sub *subscription) stop() {
	sub.cancel()
	_ = sub.ps.Close()
	<-sub.done
}

// channelPrefix is the keyspace notification channel prefix of the
// configured database.
func (s *Store) channelPrefix() string {
	return "__keyspace@" + strconv.Itoa(s.cfg.DB) + "__:"
}

// Subscribe listens to the keyspace notifications of keys (of every key
// when empty). It returns once Redis has confirmed the subscription, so a
// change made after it returns is delivered.
func (s *Store) Subscribe(ctx context.Context, keys []string, _ map[string]string, handler configuration.UpdateHandler) (string, error) {
	s.warn.Do(func() { s.checkNotifications(ctx) })
	prefix := s.channelPrefix()
	var ps *goredis.PubSub
	var confirmations int
	if len(keys) == 0 {
		ps, confirmations = s.client.PSubscribe(ctx, prefix+"*"), 1
	} else {
		// Exact channels, not patterns: a key may contain glob characters.
		channels := make([]string, len(keys))
		for i, k := range keys {
			channels[i] = prefix + k
		}
		ps, confirmations = s.client.Subscribe(ctx, channels...), len(uniq(channels))
	}
	if err := awaitConfirmations(ctx, ps, confirmations); err != nil {
		_ = ps.Close()
		return "", fmt.Errorf("subscribing to keyspace notifications: %w", err)
	}

	id := uuid.NewString()
	subCtx, cancel := context.WithCancel(s.ctx)
	sub := &subscription{cancel: cancel, ps: ps, done: make(chan struct{})}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		cancel()
		_ = ps.Close()
		return "", errors.New("store is closed")
	}
	s.subs[id] = sub
	s.mu.Unlock()

	go s.listen(subCtx, sub, id, handler)
	return id, nil
}

// awaitConfirmations reads the server's (p)subscribe replies.
func awaitConfirmations(ctx context.Context, ps *goredis.PubSub, n int) error {
	for n > 0 {
		msg, err := ps.ReceiveTimeout(ctx, confirmTimeout)
		if err != nil {
			return err
		}
		if _, ok := msg.(*goredis.Subscription); ok {
			n--
		}
	}
	return nil
}

// listen delivers one update per notification until the subscription stops.
func (s *Store) listen(ctx context.Context, sub *subscription, id string, handler configuration.UpdateHandler) {
	defer close(sub.done)
	prefix := s.channelPrefix()
	for {
		raw, err := sub.ps.ReceiveTimeout(ctx, pingEvery)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.onReadError(ctx, sub, id, err)
			continue
		}
		msg, ok := raw.(*goredis.Message)
		if !ok {
			continue // subscribe replies and pongs
		}
		key, ok := strings.CutPrefix(msg.Channel, prefix)
		if !ok {
			continue
		}
		s.deliver(ctx, id, key, handler)
	}
}

// onReadError handles a failed read: a quiet connection gets a PING, a broken
// one a pause before the next read reconnects.
func (s *Store) onReadError(ctx context.Context, sub *subscription, id string, err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		if err = sub.ps.Ping(ctx); err == nil {
			return
		}
	}
	s.log.Warn("reading keyspace notifications failed; retrying", "subscription", id, "error", err)
	select {
	case <-ctx.Done():
	case <-time.After(retryDelay):
	}
}

// deliver re-reads the key and hands its current value to the handler.
func (s *Store) deliver(ctx context.Context, id, key string, handler configuration.UpdateHandler) {
	item, ok, err := s.getOne(ctx, key)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("reading a changed configuration key failed", "subscription", id, "key", key, "error", err)
		}
		return
	}
	if !ok {
		return
	}
	if err := handler(ctx, id, map[string]*configuration.Item{key: item}); err != nil && ctx.Err() == nil {
		s.log.Warn("configuration update handler failed", "subscription", id, "key", key, "error", err)
	}
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

// checkNotifications warns when the server will not publish the
// notifications subscriptions rely on. Servers that forbid CONFIG are
// left alone.
func (s *Store) checkNotifications(ctx context.Context) {
	res, err := s.client.ConfigGet(ctx, "notify-keyspace-events").Result()
	if err != nil {
		s.log.Debug("cannot read notify-keyspace-events", "error", err)
		return
	}
	if flags := res["notify-keyspace-events"]; !notificationsEnabled(flags) {
		s.log.Warn("Redis keyspace notifications are off; configuration subscriptions will not see changes (set notify-keyspace-events to KA)", "notify-keyspace-events", flags)
	}
}

// notificationsEnabled reports whether flags publish keyspace events for
// string and generic commands.
func notificationsEnabled(flags string) bool {
	if !strings.Contains(flags, "K") {
		return false
	}
	return strings.Contains(flags, "A") || (strings.Contains(flags, "$") && strings.Contains(flags, "g"))
}

func uniq(s []string) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, v := range s {
		m[v] = true
	}
	return m
}
