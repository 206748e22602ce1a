package invoke

import (
	"fmt"
	"io"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
)

// payloadReader reads a body out of a stream of StreamPayload chunks,
// checking that sequence numbers start at 0 and increase by one. It holds
// at most one received chunk, so memory stays bounded and gRPC flow control
// slows the sender down when the reader is slow.
type payloadReader struct {
	// recv returns the next message's payload (nil for a message without
	// one) or the stream's end (io.EOF) or failure.
	recv func() (*commonv1.StreamPayload, error)
	// end, if set, sees the terminal error once (io.EOF included) and
	// returns the error Read reports from then on.
	end   func(error) error
	chunk []byte
	seq   uint64
	err   error
	// msg is the later stream message recvPooled reads into; the chunk
	// being read lives in its recycled buffer until the next receive.
	msg recvChunk
}

// recvPooled receives the next stream message into r's recycled buffer and
// returns its payload (nil for a message without one).
func (r *payloadReader) recvPooled(s interface{ RecvMsg(any) error }) (*commonv1.StreamPayload, error) {
	if err := s.RecvMsg(&r.msg); err != nil {
		return nil, err
	}
	return r.msg.payload, nil
}

// push accepts a payload that arrived with another message.
func (r *payloadReader) push(p *commonv1.StreamPayload) error {
	if p == nil {
		return nil
	}
	if p.GetSeq() != r.seq {
		return fmt.Errorf("payload chunk out of order: got seq %d, want %d", p.GetSeq(), r.seq)
	}
	r.seq++
	r.chunk = p.GetData()
	return nil
}

func (r *payloadReader) Read(p []byte) (int, error) {
	for len(r.chunk) == 0 {
		r.msg.release()
		if r.err != nil {
			return 0, r.err
		}
		pl, err := r.recv()
		if err == nil {
			err = r.push(pl)
		}
		if err != nil {
			r.finish(err)
		}
	}
	n := copy(p, r.chunk)
	r.chunk = r.chunk[n:]
	return n, nil
}

// finish records the terminal error.
func (r *payloadReader) finish(err error) {
	r.chunk = nil
	r.msg.release()
	if r.err != nil {
		return
	}
	if r.end != nil {
		err = r.end(err)
	}
	if err == nil {
		err = io.EOF
	}
	r.err = err
}
