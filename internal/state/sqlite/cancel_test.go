package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/state"
)

// TestCancelledReadsDoNotPinSnapshots checks that reads cancelled while
// running leave no reader connection on an old snapshot: after each write,
// a Get sees it.
func TestCancelledReadsDoNotPinSnapshots(t *testing.T) {
	s := openStore(t, map[string]string{})
	ctx := t.Context()
	var keys []state.GetRequest
	for i := range 300 {
		k := fmt.Sprintf("k%03d", i)
		if err := s.Set(ctx, state.SetRequest{Key: k, Value: []byte(`"` + k + `"`)}); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, state.GetRequest{Key: k})
	}
	for i := range 300 {
		want := fmt.Sprintf(`"v%d"`, i)
		if err := s.Set(ctx, state.SetRequest{Key: "probe", Value: []byte(want)}); err != nil {
			t.Fatal(err)
		}
		for range 4 {
			cctx, cancel := context.WithCancel(ctx)
			go func() {
				time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
				cancel()
			}()
			_, _ = s.BulkGet(cctx, keys)
			cancel()
		}
		for range 8 {
			got, err := s.Get(ctx, state.GetRequest{Key: "probe"})
			if err != nil {
				t.Fatal(err)
			}
			if string(got.Data) != want {
				t.Fatalf("round %d: Get = %s, want %s: a reader is on an old snapshot", i, got.Data, want)
			}
		}
	}
}
