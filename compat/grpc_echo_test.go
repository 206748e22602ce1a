package compat

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// echoStreamDesc is a tiny streaming service of the gRPC app, built from
// well-known wrapper messages so it needs no generated code. The sidecars
// proxy it like any app-defined service.
//
//	Chat     bidi: answers each message with "echo:" + message
//	Collect  client streaming: answers once with the messages joined by ","
var echoStreamDesc = grpc.ServiceDesc{
	ServiceName: "compat.EchoStream",
	HandlerType: (*any)(nil),
	Streams: []grpc.StreamDesc{
		{StreamName: "Chat", Handler: chat, ServerStreams: true, ClientStreams: true},
		{StreamName: "Collect", Handler: collect, ClientStreams: true},
	},
	Metadata: "compat/echo_stream",
}

const (
	chatMethod    = "/compat.EchoStream/Chat"
	collectMethod = "/compat.EchoStream/Collect"
)

func chat(_ any, stream grpc.ServerStream) error {
	for {
		in := new(wrapperspb.StringValue)
		if err := stream.RecvMsg(in); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("chat receive: %w", err)
		}
		if err := stream.SendMsg(wrapperspb.String("echo:" + in.GetValue())); err != nil {
			return fmt.Errorf("chat send: %w", err)
		}
	}
}

func collect(_ any, stream grpc.ServerStream) error {
	var got []string
	for {
		in := new(wrapperspb.StringValue)
		if err := stream.RecvMsg(in); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("collect receive: %w", err)
		}
		got = append(got, in.GetValue())
	}
	return stream.SendMsg(wrapperspb.String(strings.Join(got, ",")))
}
