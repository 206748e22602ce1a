package invoke

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"
)

// outBody cuts a request body into chunks for CallLocalStream and keeps
// what it has read while the call may still be retried or fall back to
// CallLocal (up to limit bytes). Once a response arrives (settle) nothing
// is kept any more and memory stays bounded by the chunks in flight.
//
// Ownership: next is called by one goroutine at a time (the caller for the
// first chunk, then the sender goroutine); the caller touches the rest only
// before the sender starts or after it has exited, except settle/exited,
// which are atomic.
type outBody struct {
	src     io.Reader // nil once exhausted
	limit   int
	kept    []*[]byte // chunks read so far, each buffer sliced to its data
	keptLen int
	replay  bool // kept holds every byte read from src
	srcDone bool
	cur     int // next kept chunk to hand out in this attempt

	// flags is the handshake that frees kept exactly once when both the
	// caller has settled and the sender has exited.
	flags atomic.Uint32
}

const (
	flagSettled uint32 = 1 << iota
	flagSenderExited
)

func newOutBody(src io.Reader, limit int) *outBody {
	return &outBody{src: src, limit: limit, replay: true, srcDone: src == nil}
}

// chunk is one piece of the body. buf, when set, must go back to the pool
// after the data was sent (it is not kept for replay).
type chunk struct {
	data []byte
	buf  *[]byte
	last bool // nothing follows
}

// next returns the next chunk of the current attempt.
func (b *outBody) next() (chunk, error) {
	if b.cur < len(b.kept) {
		c := chunk{data: *b.kept[b.cur]}
		b.cur++
		c.last = b.cur == len(b.kept) && b.srcDone
		return c, nil
	}
	if b.srcDone {
		return chunk{last: true}, nil
	}
	buf := getChunk()
	n, err := io.ReadFull(b.src, *buf)
	switch {
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		b.srcDone = true
	case err != nil:
		putChunk(buf)
		return chunk{}, fmt.Errorf("read request body: %w", err)
	}
	*buf = (*buf)[:n]
	if n == 0 {
		putChunk(buf)
		return chunk{last: b.srcDone}, nil
	}
	if b.keep(buf) {
		return chunk{data: *buf, last: b.srcDone}, nil
	}
	return chunk{data: *buf, buf: buf, last: b.srcDone}, nil
}

// keep retains buf for replay while that is still useful (no answer yet)
// and affordable (within limit).
func (b *outBody) keep(buf *[]byte) bool {
	settled := b.flags.Load()&flagSettled != 0
	if b.replay && !settled && b.keptLen+len(*buf) <= b.limit {
		b.kept = append(b.kept, buf)
		b.keptLen += len(*buf)
		b.cur = len(b.kept)
		return true
	}
	// From here on the body cannot be replayed; what was kept has been
	// sent already, so let it go.
	b.replay = false
	b.free()
	return false
}

// replayable reports whether the whole body read so far can be sent again.
// Only call it when no sender is running.
func (b *outBody) replayable() bool { return b.replay }

// rewind starts a new attempt from the first byte. Only when replayable
// and no sender is running.
func (b *outBody) rewind() {
	b.cur = 0
	b.flags.Store(0)
}

// settle is called once the peer answered: nothing needs replaying any
// more. It frees kept buffers if the sender has already exited.
func (b *outBody) settle() {
	if b.flags.Or(flagSettled)&flagSenderExited != 0 {
		b.free()
	}
}

// senderExited is the sender goroutine's last call.
func (b *outBody) senderExited() {
	if b.flags.Or(flagSenderExited)&flagSettled != 0 {
		b.free()
	}
}

// free returns kept buffers to the pool.
func (b *outBody) free() {
	for _, buf := range b.kept {
		putChunk(buf)
	}
	b.kept, b.keptLen, b.cur = nil, 0, 0
}

// readAll returns the whole body (kept chunks and the rest of src) for the
// unary CallLocal, failing beyond limit bytes.
func (b *outBody) readAll() ([]byte, error) {
	if !b.replay {
		return nil, errors.New("the request body was already partly sent and cannot be replayed")
	}
	out := make([]byte, 0, b.keptLen)
	for _, buf := range b.kept {
		out = append(out, *buf...)
	}
	b.free()
	b.replay = false
	if b.srcDone {
		return out, nil
	}
	rest, err := io.ReadAll(io.LimitReader(b.src, int64(b.limit-len(out))+1))
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	if len(out)+len(rest) > b.limit {
		return nil, fmt.Errorf("request body is larger than %d bytes, too large for a peer without streaming support", b.limit)
	}
	b.srcDone = true
	return append(out, rest...), nil
}
