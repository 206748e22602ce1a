package reminders

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/state"
)

// BenchmarkReminderTriggers measures steady-state firings per second on the
// in-memory store with 10,000 reminders of period 1ms (more due firings
// than the service can deliver, so it is the bottleneck), progress written
// back every FlushInterval as in production, and the CPU per firing.
func BenchmarkReminderTriggers(b *testing.B) {
	benchmarkReminders(b, "1ms")
}

// BenchmarkReminderOneShot measures firing reminders with no period: each
// firing also deletes the reminder from the store (batched by partition).
func BenchmarkReminderOneShot(b *testing.B) {
	benchmarkReminders(b, "")
}

func benchmarkReminders(b *testing.B, period string) {
	store := openMemory(b)
	var fired atomic.Int64
	target := int64(b.N)
	done := make(chan struct{})
	svc := New(Config{
		Store:       store,
		IsLocal:     func(context.Context, string, string) (bool, error) { return true, nil },
		HostedTypes: func() []string { return []string{"T"} },
		Log:         slog.New(slog.DiscardHandler),
		Fire: func(context.Context, Reminder) (bool, error) {
			if fired.Add(1) == target {
				close(done)
			}
			return false, nil
		},
	})
	reminders := 10_000
	if period == "" {
		reminders = b.N
	}
	// Far enough ahead that all are loaded before the first is due.
	seedReminders(b, store, reminders, time.Now().Add(8*time.Second), period)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		_ = svc.Run(ctx)
	}()
	// On a busy machine loading may overlap the first firings; that only
	// makes the result more conservative.
	for svc.Len() < reminders && fired.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	for fired.Load() == 0 {
		time.Sleep(time.Millisecond)
	}

	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	<-done
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	cancel()
	<-stopped

	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "triggers/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/trigger")
}

// seedReminders writes n reminders of type T straight into the store's
// partitions (going through Create would make the setup quadratic).
func seedReminders(b *testing.B, store state.Store, n int, due time.Time, period string) {
	parts := map[int]*storedPartition{}
	for i := range n {
		id := fmt.Sprint("actor-", i)
		p := partitionOf(id)
		if parts[p] == nil {
			parts[p] = &storedPartition{}
		}
		parts[p].Reminders = append(parts[p].Reminders, storedReminder{
			ActorID: id, Name: "r", Gen: newGen(), DueTime: due.Format(time.RFC3339Nano), Period: period, Start: due,
		})
	}
	for p, part := range parts {
		value, err := json.Marshal(part)
		if err != nil {
			b.Fatal(err)
		}
		if err := store.Set(context.Background(), state.SetRequest{Key: partitionKey("T", p), Value: value}); err != nil {
			b.Fatal(err)
		}
	}
}

// cpuTime is the user+system CPU this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
