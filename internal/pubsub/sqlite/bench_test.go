package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/pubsub"
)

// BenchmarkPublishDeliver measures end to end throughput: publishers that
// each wait for their commit, one subscription acknowledging every
// message. msg/s counts messages delivered to the handler.
func BenchmarkPublishDeliver(b *testing.B) {
	for _, publishers := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("publishers=%d", publishers), func(b *testing.B) {
			benchPublishDeliver(b, publishers, 1)
		})
	}
	b.Run("bulk=100", func(b *testing.B) { benchPublishDeliver(b, 2, 100) })
}

func benchPublishDeliver(b *testing.B, publishers, bulk int) {
	br := New()
	props := map[string]string{"connectionString": filepath.Join(b.TempDir(), "bench.db"), "consumerID": "bench"}
	if err := br.Init(context.Background(), pubsub.Metadata{Name: "bench", Properties: props}); err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	total := int64(b.N)
	var got atomic.Int64
	done := make(chan struct{})
	err := br.Subscribe(context.Background(), pubsub.SubscribeRequest{Topic: "bench"}, func(context.Context, *pubsub.Message) error {
		if got.Add(1) == total {
			close(done)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 256)
	for i := range data {
		data[i] = 'a' + byte(i%26)
	}
	b.ResetTimer()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := min(int64(bulk), total-next.Add(int64(bulk))+int64(bulk))
				if n <= 0 {
					return
				}
				if err := publishN(br, data, int(n)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	<-done
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}

// publishN publishes n messages: one Publish, or one BulkPublish.
func publishN(br *Broker, data []byte, n int) error {
	ctx := context.Background()
	if n == 1 {
		return br.Publish(ctx, &pubsub.PublishRequest{Topic: "bench", Data: data, ContentType: "application/json"})
	}
	req := &pubsub.BulkPublishRequest{Topic: "bench"}
	for i := range n {
		req.Entries = append(req.Entries, pubsub.BulkPublishEntry{EntryID: fmt.Sprint(i), Data: data, ContentType: "application/json"})
	}
	failures, err := br.BulkPublish(ctx, req)
	if err == nil && len(failures) > 0 {
		err = failures[0].Error
	}
	return err
}

// BenchmarkPublish measures publishing alone: 16 publishers that each wait
// for their commit, to a topic nobody subscribes to.
func BenchmarkPublish(b *testing.B) {
	br := New()
	props := map[string]string{"connectionString": filepath.Join(b.TempDir(), "bench.db"), "consumerID": "bench"}
	if err := br.Init(context.Background(), pubsub.Metadata{Name: "bench", Properties: props}); err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	data := make([]byte, 400)
	for i := range data {
		data[i] = 'a' + byte(i%26)
	}
	b.ResetTimer()
	publishConcurrently(b, br, data)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}

// BenchmarkDeliverBacklog measures the subscriber side alone: a backlog
// published beforehand by another instance is claimed, handled (a no-op)
// and acknowledged.
func BenchmarkDeliverBacklog(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.db")
	props := map[string]string{"connectionString": path, "consumerID": "bench"}
	pub := New()
	if err := pub.Init(context.Background(), pubsub.Metadata{Name: "bench", Properties: props}); err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	data := make([]byte, 400)
	for left := b.N; left > 0; left -= 500 {
		req := &pubsub.BulkPublishRequest{Topic: "bench"}
		for i := range min(left, 500) {
			req.Entries = append(req.Entries, pubsub.BulkPublishEntry{EntryID: string(rune('a' + i%26)), Data: data, ContentType: "application/cloudevents+json"})
		}
		if _, err := pub.BulkPublish(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
	sub := New()
	if err := sub.Init(context.Background(), pubsub.Metadata{Name: "bench", Properties: props}); err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	var got atomic.Int64
	done := make(chan struct{})
	b.ResetTimer()
	err := sub.Subscribe(context.Background(), pubsub.SubscribeRequest{Topic: "bench"}, func(context.Context, *pubsub.Message) error {
		if got.Add(1) == int64(b.N) {
			close(done)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	<-done
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}

// BenchmarkTwoInstances is the shape of a publisher sidecar and a
// subscriber sidecar sharing the file: 16 publishers on one instance,
// the subscription on another, which learns of new messages by polling.
// The handler takes `handler` per message, like an app answering over
// HTTP.
func BenchmarkTwoInstances(b *testing.B) {
	for _, d := range []time.Duration{0, time.Millisecond} {
		b.Run(fmt.Sprintf("handler=%v", d), func(b *testing.B) { benchTwoInstances(b, d) })
	}
}

func benchTwoInstances(b *testing.B, handler time.Duration) {
	path := filepath.Join(b.TempDir(), "bench.db")
	props := map[string]string{"connectionString": path, "consumerID": "bench"}
	pub, sub := New(), New()
	for _, br := range []*Broker{pub, sub} {
		if err := br.Init(context.Background(), pubsub.Metadata{Name: "bench", Properties: props}); err != nil {
			b.Fatal(err)
		}
		defer br.Close()
	}
	var got atomic.Int64
	done := make(chan struct{})
	err := sub.Subscribe(context.Background(), pubsub.SubscribeRequest{Topic: "bench"}, func(context.Context, *pubsub.Message) error {
		if handler > 0 {
			time.Sleep(handler)
		}
		if got.Add(1) == int64(b.N) {
			close(done)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 400)
	b.ResetTimer()
	publishConcurrently(b, pub, data)
	<-done
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}

// publishConcurrently publishes b.N messages from 16 goroutines.
func publishConcurrently(b *testing.B, br *Broker, data []byte) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := br.Publish(context.Background(), &pubsub.PublishRequest{Topic: "bench", Data: data, ContentType: "application/cloudevents+json"}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
