package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

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
