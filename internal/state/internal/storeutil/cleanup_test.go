package storeutil

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

func TestEveryAndStop(t *testing.T) {
	var calls atomic.Int32
	stopped := make(chan struct{})
	p := Every(10*time.Millisecond, func(ctx context.Context) {
		if calls.Add(1) == 3 {
			close(stopped)
		}
	})
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("fn was not called three times within 5s at a 10ms interval")
	}
	p.Stop()
	n := calls.Load()
	time.Sleep(30 * time.Millisecond)
	if calls.Load() != n {
		t.Error("fn was called after Stop returned")
	}
	p.Stop() // a second Stop does nothing
	var none *Periodic
	none.Stop() // nor does Stop on a disabled (nil) one
}

func TestStopCancelsARunningCleanup(t *testing.T) {
	started := make(chan struct{}, 1)
	claim := func(ctx context.Context, _ ...any) (sql.Result, error) {
		started <- struct{}{} // once: this pass runs until Stop
		<-ctx.Done()
		return nil, ctx.Err()
	}
	del := func(context.Context, ...any) (sql.Result, error) {
		t.Error("delete ran after a failed claim")
		return result(0), nil
	}
	p := StartCleanup(time.Millisecond, time.Hour, slog.New(slog.DiscardHandler), claim, del)
	<-started
	p.Stop() // returns only because the pass saw its context cancelled
}

func TestCleanupPassTimeout(t *testing.T) {
	deadlines := make(chan time.Duration, 1)
	claim := func(ctx context.Context, _ ...any) (sql.Result, error) {
		d, _ := ctx.Deadline()
		select {
		case deadlines <- time.Until(d):
		default:
		}
		return result(0), nil
	}
	p := StartCleanup(time.Millisecond, time.Minute, slog.New(slog.DiscardHandler), claim, nil)
	defer p.Stop()
	if d := <-deadlines; d <= 0 || d > time.Minute {
		t.Errorf("cleanup pass deadline in %v, want within the 1m timeout", d)
	}
}

func TestCleanupExpired(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name       string
		claimed    int64
		claimErr   error
		deleted    int64
		want       int64
		wantErr    bool
		wantDelete bool
	}{
		{name: "our turn", claimed: 1, deleted: 7, want: 7, wantDelete: true},
		{name: "another process's turn", claimed: 0, want: 0},
		{name: "claim fails", claimErr: boom, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var window any
			deleted := false
			claim := func(_ context.Context, args ...any) (sql.Result, error) {
				window = args[0]
				return result(tc.claimed), tc.claimErr
			}
			del := func(_ context.Context, args ...any) (sql.Result, error) {
				deleted = true
				return result(tc.deleted), nil
			}
			n, err := CleanupExpired(t.Context(), time.Second, claim, del)
			if n != tc.want || (err != nil) != tc.wantErr || deleted != tc.wantDelete {
				t.Errorf("CleanupExpired = %d, %v, deleted %v; want %d, error %v, deleted %v", n, err, deleted, tc.want, tc.wantErr, tc.wantDelete)
			}
			if window != int64(900) {
				t.Errorf("claim window = %v, want 900 (ms: 1s less 100ms slack)", window)
			}
		})
	}
}
