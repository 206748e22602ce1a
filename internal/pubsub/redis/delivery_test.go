package redis

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/outrigger/outrigger/internal/pubsub"
)

// TestReclaimFromDeadConsumer: another consumer of the group (a crashed
// sidecar) read a message and never acknowledged it; once it has been
// pending for processingTimeout, a running subscriber claims and handles it.
func TestReclaimFromDeadConsumer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	topic, group := e.topic("dead-consumer"), "reclaim"
	if err := e.raw.XGroupCreateMkStream(ctx, topic, group, "0").Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.raw.XAdd(ctx, &goredis.XAddArgs{Stream: topic, Values: []any{"data", "orphan"}}).Err(); err != nil {
		t.Fatal(err)
	}
	read, err := e.raw.XReadGroup(ctx, &goredis.XReadGroupArgs{Group: group, Consumer: "crashed", Streams: []string{topic, ">"}, Count: 1}).Result()
	if err != nil || len(read) != 1 || len(read[0].Messages) != 1 {
		t.Fatalf("XREADGROUP as the crashed consumer = %v, %v", read, err)
	}
	start := time.Now()
	in := newInbox()
	subscribe(t, e.open(t, group, nil), topic, in.handle)
	got := in.wait(t, 1, 10*time.Second)
	if string(got[0].Data) != "orphan" {
		t.Fatalf("delivered %q, want the orphaned message", got[0].Data)
	}
	// processingTimeout is 1s in these tests.
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("claimed after %s, before processingTimeout", d)
	}
	waitPending(t, e.raw, topic, group, 0, 5*time.Second)
}

// TestReleaseOnStop: messages a stopping subscription read but did not
// finish are marked idle, so the next subscriber of the group gets them at
// once rather than after processingTimeout (30s here).
func TestReleaseOnStop(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	topic := e.topic("release")
	extra := map[string]string{"processingTimeout": "30s", "redeliverInterval": "30s"}
	b := e.open(t, "release", extra)
	held := make(chan struct{}, 10)
	stopped := make(chan struct{})
	var once sync.Once
	cancel := subscribe(t, b, topic, func(ctx context.Context, m *pubsub.Message) error {
		held <- struct{}{}
		<-ctx.Done()
		once.Do(func() { close(stopped) })
		return ctx.Err()
	})
	if err := b.Publish(t.Context(), &pubsub.PublishRequest{Topic: topic, Data: []byte("held")}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-held:
	case <-time.After(5 * time.Second):
		t.Fatal("message not delivered")
	}
	cancel()
	<-stopped
	// Released: the entry looks pending for processingTimeout already.
	start := time.Now()
	for {
		p, err := e.raw.XPendingExt(t.Context(), &goredis.XPendingExtArgs{Stream: topic, Group: "release", Start: "-", End: "+", Count: 10}).Result()
		if err == nil && len(p) == 1 && p[0].Idle >= 30*time.Second {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("pending entries %+v (%v): not released within 5s of stopping", p, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("released %s after the handler returned", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	in := newInbox()
	subscribe(t, e.open(t, "release", extra), topic, in.handle)
	got := in.wait(t, 1, 10*time.Second)
	if string(got[0].Data) != "held" {
		t.Fatalf("delivered %q, want the released message", got[0].Data)
	}
	t.Logf("released message redelivered %s after the new subscription started", time.Since(start).Round(time.Millisecond))
}

// TestFailedMessageWaitsForRedelivery: a failed message stays pending and
// comes back only after processingTimeout; without redelivery it stays.
func TestFailedMessageWaitsForRedelivery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name       string
		extra      map[string]string
		redelivers bool
	}{
		{"redelivered after processingTimeout", nil, true},
		{"redeliverInterval 0 disables", map[string]string{"redeliverInterval": "0"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			topic := e.topic("fail-" + strings.ReplaceAll(tt.name, " ", "-"))
			var mu sync.Mutex
			var times []time.Time
			b := e.open(t, "failing", tt.extra)
			subscribe(t, b, topic, func(context.Context, *pubsub.Message) error {
				mu.Lock()
				defer mu.Unlock()
				times = append(times, time.Now())
				if len(times) == 1 {
					return fmt.Errorf("first attempt fails")
				}
				return nil
			})
			if err := b.Publish(t.Context(), &pubsub.PublishRequest{Topic: topic, Data: []byte("x")}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2500 * time.Millisecond) // processingTimeout 1s + redeliverInterval 500ms, with slack
			mu.Lock()
			defer mu.Unlock()
			switch {
			case !tt.redelivers && len(times) != 1:
				t.Errorf("handled %d times, want 1 (no redelivery)", len(times))
			case tt.redelivers && len(times) != 2:
				t.Errorf("handled %d times, want 2", len(times))
			case tt.redelivers && times[1].Sub(times[0]) < 900*time.Millisecond:
				t.Errorf("redelivered after %s, before processingTimeout", times[1].Sub(times[0]))
			}
			want := int64(1)
			if tt.redelivers {
				want = 0
			}
			waitPending(t, e.raw, topic, "failing", want, 2*time.Second)
		})
	}
}

// TestStreamDeletedWhileSubscribed: when the stream (and so the group)
// disappears, the reader creates the group again and delivery resumes.
func TestStreamDeletedWhileSubscribed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	topic := e.topic("deleted")
	b := e.open(t, "recreate", nil)
	in := newInbox()
	subscribe(t, b, topic, in.handle)
	if err := e.raw.Del(t.Context(), topic).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; ; i++ {
		if err := b.Publish(t.Context(), &pubsub.PublishRequest{Topic: topic, Data: fmt.Appendf(nil, "after-%d", i)}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-in.got:
			return
		case <-time.After(500 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no delivery after the stream was deleted and published to again")
		}
	}
}

// TestConcurrencyLimit: at most `concurrency` handlers run at once for a
// subscription, and they do run in parallel.
func TestConcurrencyLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	topic := e.topic("concurrency")
	b := e.open(t, "limited", map[string]string{"concurrency": "3"})
	var running, peak atomic.Int32
	in := newInbox()
	subscribe(t, b, topic, func(ctx context.Context, m *pubsub.Message) error {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
		running.Add(-1)
		return in.handle(ctx, m)
	})
	for i := range 9 {
		if err := b.Publish(t.Context(), &pubsub.PublishRequest{Topic: topic, Data: fmt.Appendf(nil, "m%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	in.wait(t, 9, 10*time.Second)
	if p := peak.Load(); p != 3 {
		t.Errorf("peak concurrent handlers = %d, want 3", p)
	}
}

func TestClosedBroker(t *testing.T) {
	e := newEnv(t)
	b := New().(*Broker)
	if err := b.Init(t.Context(), e.metadata("closed", nil)); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	topic := e.topic("closed")
	if err := b.Publish(t.Context(), &pubsub.PublishRequest{Topic: topic, Data: []byte("x")}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Publish after Close: %v, want a closed error", err)
	}
	err := b.Subscribe(t.Context(), pubsub.SubscribeRequest{Topic: topic}, func(context.Context, *pubsub.Message) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Subscribe after Close: %v, want a closed error", err)
	}
}

// TestInitErrors needs no server: the errors come from the metadata or
// name the unreachable host.
func TestInitErrors(t *testing.T) {
	tests := []struct {
		name  string
		props map[string]string
		want  string
	}{
		{"missing host", map[string]string{"consumerID": "a"}, "redisHost is required"},
		{"unreachable host", map[string]string{"redisHost": "127.0.0.1:1", "consumerID": "a", "dialTimeout": "200ms", "redisMaxRetries": "-1"}, "error connecting to redis at 127.0.0.1:1"},
		{"bad concurrency", map[string]string{"redisHost": "127.0.0.1:1", "consumerID": "a", "concurrency": "none"}, "concurrency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New()
			err := b.Init(t.Context(), pubsub.Metadata{Name: "p", Properties: tt.props})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Init error = %v, want one containing %q", err, tt.want)
			}
			if err := b.Close(); err != nil {
				t.Errorf("Close after failed Init: %v", err)
			}
			if err := b.Publish(t.Context(), &pubsub.PublishRequest{Topic: "t"}); err == nil {
				t.Error("Publish after failed Init succeeded")
			}
		})
	}
}
