package testutil

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestEventuallyWaitsForTheCondition(t *testing.T) {
	var calls atomic.Int32
	Eventually(t, 5*time.Second, "the third poll", func() bool { return calls.Add(1) >= 3 })
	if calls.Load() != 3 {
		t.Fatalf("cond called %d times, want 3", calls.Load())
	}
}

// failRecorder records Fatalf instead of ending the test.
type failRecorder struct {
	testing.TB
	msg string
}

func (f *failRecorder) Helper() {}
func (f *failRecorder) Fatalf(format string, args ...any) {
	f.msg = format
	panic(f) // Fatalf must not return
}

func TestEventuallyFailsAfterTheLimit(t *testing.T) {
	rec := &failRecorder{TB: t}
	start := time.Now()
	func() {
		defer func() {
			if r := recover(); r != rec {
				t.Fatalf("recovered %v, want the recorder's panic", r)
			}
		}()
		Eventually(rec, 20*time.Millisecond, "never", func() bool { return false })
	}()
	if rec.msg == "" || time.Since(start) < 20*time.Millisecond {
		t.Fatalf("failed with %q after %v, want a failure after the 20ms limit", rec.msg, time.Since(start))
	}
}
