// Package grpccodec is the gRPC codec of the sidecar's internal server and
// of its calls to other sidecars: protobuf, except for messages that
// encode or decode themselves from grpc's buffers. The gRPC proxy uses that
// to forward raw frames it never decodes, and service invocation to read
// streamed payload chunks into recycled buffers instead of a fresh
// allocation per chunk.
package grpccodec

import (
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// BufferMarshaler is a message that is its own wire form.
type BufferMarshaler interface {
	MarshalBuffer() (mem.BufferSlice, error)
}

// BufferUnmarshaler is a message that decodes itself from the received
// bytes. grpc recycles them once UnmarshalBuffer returns, so it must copy
// what it keeps.
type BufferUnmarshaler interface {
	UnmarshalBuffer(mem.BufferSlice) error
}

// protoCodec is grpc's own proto codec. Importing encoding/proto runs its
// registration before this package initialises, so the lookup cannot miss.
var protoCodec = encoding.GetCodecV2(proto.Name)

// Codec hands every other message to the proto codec, so a server using it
// still serves its ordinary registered services. It keeps the name
// "proto": it is installed by a server or call option, not picked by
// content-subtype.
type Codec struct{}

// Name implements encoding.CodecV2.
func (Codec) Name() string { return proto.Name }

// Marshal implements encoding.CodecV2.
func (Codec) Marshal(v any) (mem.BufferSlice, error) {
	if m, ok := v.(BufferMarshaler); ok {
		return m.MarshalBuffer()
	}
	return protoCodec.Marshal(v)
}

// Unmarshal implements encoding.CodecV2.
func (Codec) Unmarshal(data mem.BufferSlice, v any) error {
	if u, ok := v.(BufferUnmarshaler); ok {
		return u.UnmarshalBuffer(data)
	}
	return protoCodec.Unmarshal(data, v)
}
