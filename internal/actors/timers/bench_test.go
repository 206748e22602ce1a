package timers

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkTimerTriggers measures how many firings per second the scheduler
// delivers with 10,000 timers of period 1ms (far more due firings than it
// can deliver, so the scheduler is the bottleneck) and the CPU per firing.
func BenchmarkTimerTriggers(b *testing.B) {
	const timers = 10_000
	var fired atomic.Int64
	target := int64(b.N)
	done := make(chan struct{})
	tm := New(func(context.Context, Timer) (bool, error) {
		if fired.Add(1) == target {
			close(done)
		}
		return false, nil
	}, slog.New(slog.DiscardHandler))
	for i := range timers {
		if err := tm.Create(CreateRequest{ActorType: "T", ActorID: fmt.Sprint(i), Name: "t", DueTime: "100ms", Period: "1ms"}); err != nil {
			b.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tm.Run(ctx)
	}()

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

// cpuTime is the user+system CPU this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
