package sleep

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestWait(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		d    time.Duration
		want error
	}{
		{"whole wait", context.Background(), time.Millisecond, nil},
		{"no wait", context.Background(), 0, nil},
		{"context already ended", cancelled, time.Hour, context.Canceled},
		{"context ended, no wait", cancelled, 0, context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := Wait(tc.ctx, tc.d); !errors.Is(err, tc.want) {
				t.Fatalf("Wait = %v, want %v", err, tc.want)
			}
			if got := For(tc.ctx, tc.d); got != (tc.want == nil) {
				t.Fatalf("For = %v, want %v", got, tc.want == nil)
			}
		})
	}
}

func TestWaitEndsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(10 * time.Millisecond)
		cancel()
	}()
	if err := Wait(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled once the context ends", err)
	}
}
