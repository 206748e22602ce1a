package appchannel

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
)

// limiter is a counting semaphore over in-flight app calls; nil means
// unlimited.
type limiter chan struct{}

func newLimiter(n int) limiter {
	if n <= 0 {
		return nil
	}
	return make(limiter, n)
}

// acquire waits for a free slot, giving up when ctx is done.
func (l limiter) acquire(ctx context.Context) error {
	if l == nil {
		return nil
	}
	select {
	case l <- struct{}{}:
		return nil
	default:
	}
	select {
	case l <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for an app concurrency slot: %w", ctx.Err())
	}
}

func (l limiter) release() {
	if l != nil {
		<-l
	}
}

// appBody is an app response body that enforces the size limit and frees
// the concurrency slot when closed: the app is busy until its body is read.
type appBody struct {
	rc        io.ReadCloser
	remaining int64 // bytes still allowed; <0 means unlimited
	lim       limiter
	closed    atomic.Bool
}

func newAppBody(rc io.ReadCloser, max int64, lim limiter) *appBody {
	if max <= 0 {
		max = -1
	}
	return &appBody{rc: rc, remaining: max, lim: lim}
}

func (b *appBody) Read(p []byte) (int, error) {
	if b.remaining < 0 {
		return b.rc.Read(p)
	}
	if b.remaining == 0 {
		// Only an error if the app has more to send.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, ErrBodyTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.rc.Read(p)
	b.remaining -= int64(n)
	return n, err
}

func (b *appBody) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	err := b.rc.Close()
	b.lim.release()
	return err
}
