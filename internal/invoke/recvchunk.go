package invoke

import (
	"errors"
	"sync"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// recvChunk is one later message of a CallLocalStream, either direction
// (InternalInvokeRequestStream or InternalInvokeResponseStream: field 1 the
// request or response, which only the first message carries, field 2 the
// payload chunk). It is decoded by hand so the chunk's data lives in a
// recycled buffer: proto decoding would allocate a fresh 64 KiB slice per
// chunk, and streaming 100 MiB left 100 MiB of garbage for the collector,
// which let the heap, and so the process's memory, grow by tens of MiB.
type recvChunk struct {
	buf     *[]byte
	payload *commonv1.StreamPayload // nil when the message has none; Data aliases buf
	size    int                     // the message's encoded size
}

// Len is the size of the message last received, for the metrics
// interceptors.
func (c *recvChunk) Len() int { return c.size }

// recvBufSize holds a full 64 KiB chunk plus its framing.
const recvBufSize = chunkSize + 1024

var recvBufPool = sync.Pool{New: func() any {
	b := make([]byte, recvBufSize)
	return &b
}}

// UnmarshalBuffer implements grpccodec.BufferUnmarshaler.
func (c *recvChunk) UnmarshalBuffer(data mem.BufferSlice) error {
	n := data.Len()
	c.size = n
	if n <= recvBufSize {
		c.buf = recvBufPool.Get().(*[]byte)
	} else {
		b := make([]byte, n) // a peer with bigger chunks: not pooled
		c.buf = &b
	}
	b := (*c.buf)[:n]
	data.CopyTo(b)
	p, err := parseStreamMessage(b, nil)
	if err != nil {
		c.release()
		return err
	}
	c.payload = p
	return nil
}

// release returns the buffer; the payload's data is invalid afterwards.
func (c *recvChunk) release() {
	if c.buf != nil && cap(*c.buf) == recvBufSize {
		*c.buf = (*c.buf)[:recvBufSize]
		recvBufPool.Put(c.buf)
	}
	c.buf, c.payload = nil, nil
}

var errMalformedChunk = errors.New("malformed stream message")

// parseStreamMessage reads a stream message: field 1 (the request or
// response) through inner, skipped when inner is nil, and field 2 (the
// payload), whose data aliases b. As in proto, a field that repeats takes
// its last value.
func parseStreamMessage(b []byte, inner func([]byte) error) (*commonv1.StreamPayload, error) {
	var payload *commonv1.StreamPayload
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		switch {
		case typ != protowire.BytesType:
			return nil
		case num == streamMessageField && inner != nil:
			return inner(v)
		case num != streamPayloadField:
			return nil
		}
		if payload == nil {
			payload = &commonv1.StreamPayload{}
		}
		return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
			switch {
			case num == payloadData && typ == protowire.BytesType:
				payload.Data = v
			case num == payloadSeq && typ == protowire.VarintType:
				payload.Seq = x
			}
			return nil
		})
	})
	return payload, err
}

// eachField calls fn with each field of a message: v holds a bytes
// field's value, x a varint's.
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errMalformedChunk
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return errMalformedChunk
		}
		b = b[n:]
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}
