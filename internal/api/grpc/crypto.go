package grpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/crypto"
)

// cryptoFirstMessageTimeout bounds the wait for the options message, as
// in Dapr.
const cryptoFirstMessageTimeout = 5 * time.Second

// EncryptAlpha1 encrypts a stream: the first request carries the options,
// every request may carry a payload chunk (seq 0, 1, …); responses carry
// the encrypted document in chunks numbered the same way.
func (s *Server) EncryptAlpha1(stream runtimev1.Dapr_EncryptAlpha1Server) error {
	first := &runtimev1.EncryptRequest{}
	if err := recvFirstCryptoMessage(stream, first); err != nil {
		return err
	}
	opts := first.GetOptions()
	switch {
	case opts == nil:
		return apierr.BadRequest("first message does not contain the required options")
	case opts.GetKeyName() == "":
		return apierr.BadRequest("missing property 'keyName' in the options message")
	case opts.GetKeyWrapAlgorithm() == "":
		return apierr.BadRequest("missing property 'algorithm' in the options message")
	}
	in := &cryptoRequestReader{stream: stream, first: first, next: func() cryptoRequest { return &runtimev1.EncryptRequest{} }}
	out, err := s.core.Encrypt(stream.Context(), opts, in)
	if err != nil {
		return err
	}
	return sendCryptoStream(stream, out, func(p *commonv1.StreamPayload) proto.Message {
		return &runtimev1.EncryptResponse{Payload: p}
	})
}

// DecryptAlpha1 decrypts a stream; framing as EncryptAlpha1.
func (s *Server) DecryptAlpha1(stream runtimev1.Dapr_DecryptAlpha1Server) error {
	first := &runtimev1.DecryptRequest{}
	if err := recvFirstCryptoMessage(stream, first); err != nil {
		return err
	}
	opts := first.GetOptions()
	if opts == nil {
		return apierr.BadRequest("first message does not contain the required options")
	}
	in := &cryptoRequestReader{stream: stream, first: first, next: func() cryptoRequest { return &runtimev1.DecryptRequest{} }}
	out, err := s.core.Decrypt(stream.Context(), opts, in)
	if err != nil {
		return err
	}
	return sendCryptoStream(stream, out, func(p *commonv1.StreamPayload) proto.Message {
		return &runtimev1.DecryptResponse{Payload: p}
	})
}

// SubtleGetKeyAlpha1 returns the public part of a key. The other Subtle*
// methods answer Unimplemented, as in Dapr's release builds.
func (s *Server) SubtleGetKeyAlpha1(ctx context.Context, req *runtimev1.SubtleGetKeyRequest) (*runtimev1.SubtleGetKeyResponse, error) {
	return s.core.SubtleGetKey(ctx, req)
}

// cryptoRequest is EncryptRequest or DecryptRequest.
type cryptoRequest interface {
	proto.Message
	GetPayload() *commonv1.StreamPayload
}

// hasOptions reports whether a request carries options.
func hasOptions(m cryptoRequest) bool {
	switch r := m.(type) {
	case *runtimev1.EncryptRequest:
		return r.GetOptions() != nil
	case *runtimev1.DecryptRequest:
		return r.GetOptions() != nil
	}
	return false
}

// recvFirstCryptoMessage waits for the options message. A client that
// opens the stream and sends nothing gets ERR_BAD_REQUEST after the
// timeout. The receiving goroutine cannot be interrupted by the handler;
// it ends when the stream does, which returning the error causes at once.
func recvFirstCryptoMessage(stream grpc.ServerStream, m proto.Message) error {
	done := make(chan error, 1)
	go func() { done <- stream.RecvMsg(m) }()
	timer := time.NewTimer(cryptoFirstMessageTimeout)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			return apierr.Crypto(fmt.Errorf("error receiving the first message: %w", err))
		}
		return nil
	case <-timer.C:
		return apierr.BadRequest("error waiting for first message: " + context.DeadlineExceeded.Error())
	case <-stream.Context().Done():
		return apierr.BadRequest("error waiting for first message: " + stream.Context().Err().Error())
	}
}

// cryptoRequestReader turns the request stream into the byte stream of
// payload chunks, receiving one message at a time as the scheme asks for
// data, so memory stays bounded.
type cryptoRequestReader struct {
	stream grpc.ServerStream
	first  cryptoRequest // the options message; its payload is read first
	next   func() cryptoRequest
	buf    []byte
	seq    uint64
	err    error
}

func (r *cryptoRequestReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.buf, r.err = r.receive()
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// receive returns the data of the next message (the first one's included).
func (r *cryptoRequestReader) receive() ([]byte, error) {
	msg := r.first
	if msg != nil {
		r.first = nil
	} else {
		msg = r.next()
		if err := r.stream.RecvMsg(msg); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("error receiving message: %w", err)
		}
		if hasOptions(msg) {
			return nil, errors.New("options found in non-leading message")
		}
	}
	payload := msg.GetPayload()
	if payload == nil {
		return nil, nil
	}
	if payload.GetSeq() != r.seq {
		return nil, fmt.Errorf("invalid sequence number received: %d (expected: %d)", payload.GetSeq(), r.seq)
	}
	r.seq++
	return payload.GetData(), nil
}

// sendCryptoStream sends out in numbered chunks of at most one segment.
func sendCryptoStream(stream grpc.ServerStream, out io.Reader, wrap func(*commonv1.StreamPayload) proto.Message) error {
	ctx := stream.Context()
	buf := make([]byte, crypto.SegmentSize+17)
	var seq uint64
	for {
		if err := ctx.Err(); err != nil {
			return apierr.Crypto(err)
		}
		n, err := out.Read(buf)
		if n > 0 {
			if sendErr := stream.SendMsg(wrap(&commonv1.StreamPayload{Data: buf[:n], Seq: seq})); sendErr != nil {
				return apierr.Crypto(fmt.Errorf("error sending message: %w", sendErr))
			}
			seq++
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return apierr.Crypto(err)
		}
	}
}
