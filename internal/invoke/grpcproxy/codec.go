package grpcproxy

import (
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// frame is one gRPC message as raw bytes. The proxy never decodes what it
// forwards, so it works for any service and any message encoding.
type frame struct {
	data []byte
}

// protoCodec is grpc's own proto codec. Importing encoding/proto runs its
// registration before this package initialises, so the lookup cannot miss.
var protoCodec = encoding.GetCodecV2(proto.Name)

// rawCodec passes *frame values through untouched and hands everything else
// to the proto codec, so a server using it still serves its ordinary
// registered services. It keeps the name "proto": it is installed by a
// server/call option, not picked by content-subtype.
type rawCodec struct{}

func (rawCodec) Name() string { return proto.Name }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if f, ok := v.(*frame); ok {
		return mem.BufferSlice{mem.SliceBuffer(f.data)}, nil
	}
	return protoCodec.Marshal(v)
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if f, ok := v.(*frame); ok {
		// grpc recycles data once we return, so the bytes must be copied.
		f.data = data.Materialize()
		return nil
	}
	return protoCodec.Unmarshal(data, v)
}
