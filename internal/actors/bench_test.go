package actors

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
)

// BenchmarkInvokeLocal measures calls through the runtime to actors this
// host owns (the app answers at once): routing, the turn lock and the
// activation table.
func BenchmarkInvokeLocal(b *testing.B) {
	for _, actors := range []int{1, 1000} {
		b.Run("actors="+strconv.Itoa(actors), func(b *testing.B) {
			h := newHarness(b, &fakeApp{}, nil)
			ids := make([]string, actors)
			for i := range ids {
				ids[i] = strconv.Itoa(i)
			}
			var next atomic.Uint64
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := ids[int(next.Add(1))%actors]
					if _, err := h.rt.Invoke(ctx, actorCall("counter", id, "m", nil)); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
		})
	}
}
