package grpcproxy

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// anyStream lets one descriptor carry every streaming kind: unary and
// one-way streams are just bidi streams that send or receive one message.
var anyStream = &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}

// forward replays the call on conn and relays frames both ways until the
// upstream finishes, then returns its status unchanged.
//
// The upstream stream lives on a child of the incoming context, so the
// caller's deadline and cancellation reach it, and returning cancels it.
// The downstream pump may still sit in in.RecvMsg when we return (the
// upstream answered before the client finished sending); grpc ends the
// server stream as the handler returns, which releases it.
func forward(ctx context.Context, in grpc.ServerStream, conn *grpc.ClientConn, method string, md metadata.MD) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	up, err := newUpstream(ctx, conn, method, md)
	if err != nil {
		return err
	}
	return relay(in, up, cancel)
}

// newUpstream opens the call on conn; the call lives as long as ctx.
func newUpstream(ctx context.Context, conn *grpc.ClientConn, method string, md metadata.MD) (grpc.ClientStream, error) {
	return conn.NewStream(metadata.NewOutgoingContext(ctx, md), anyStream, method, grpc.ForceCodecV2(rawCodec{}))
}

// relay pumps frames both ways between the client and an open upstream
// call until the upstream finishes, and returns its status. cancel ends the
// upstream call; relay calls it when the client goes away.
//
// Answers are relayed on the calling (handler) goroutine and requests on
// one more: a goroutine per call fewer than a pump each way, and the
// handler's stack has already grown to what a pump needs.
func relay(in grpc.ServerStream, up grpc.ClientStream, cancel context.CancelFunc) error {
	fromClient := make(chan error, 1)
	go func() {
		err := clientToUpstream(in, up)
		// Report before cancelling: the upstream pump below returns once
		// cancelled, and must find the reason here.
		fromClient <- err
		if err != nil {
			// The client went away or sent something unreadable: stop the
			// upstream.
			cancel()
		}
	}()
	err := upstreamToClient(up, in)
	select {
	case cerr := <-fromClient:
		if cerr != nil {
			return clientError(cerr)
		}
	default:
		// The client is still sending (the upstream answered early); grpc
		// ends the server stream as the handler returns, which releases
		// the pump.
	}
	var dErr downstreamError
	if errors.As(err, &dErr) {
		// The client cannot take more: end the upstream.
		cancel()
		return clientError(dErr.err)
	}
	// The upstream has finished, so its trailer is final.
	in.SetTrailer(up.Trailer())
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// clientToUpstream copies request frames until the client half-closes
// (nil), the upstream stops accepting (nil: its status comes from RecvMsg),
// or reading from the client fails (that error).
func clientToUpstream(in grpc.ServerStream, up grpc.ClientStream) error {
	for {
		f := &frame{}
		if err := in.RecvMsg(f); err != nil {
			if errors.Is(err, io.EOF) {
				return up.CloseSend()
			}
			return err
		}
		if err := up.SendMsg(f); err != nil {
			return nil
		}
	}
}

// upstreamToClient relays the upstream's headers as soon as they arrive,
// then response frames. It returns io.EOF when the upstream ended with OK,
// its status error otherwise, or a downstreamError when writing to the
// client failed.
func upstreamToClient(up grpc.ClientStream, in grpc.ServerStream) error {
	// Header returns nil metadata for a trailers-only answer; sending an
	// empty header block then would change what the client sees.
	md, err := up.Header()
	if err == nil && md != nil {
		if err := in.SendHeader(md); err != nil {
			return downstreamError{err}
		}
	}
	for {
		f := &frame{}
		if err := up.RecvMsg(f); err != nil {
			return err
		}
		if err := in.SendMsg(f); err != nil {
			return downstreamError{err}
		}
	}
}

// clientError turns a failure reading from the client into a status.
func clientError(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.FromContextError(err).Err()
}

// downstreamError marks a failure to write to the client, as opposed to the
// upstream's own status.
type downstreamError struct{ err error }

func (e downstreamError) Error() string { return e.err.Error() }
func (e downstreamError) Unwrap() error { return e.err }
