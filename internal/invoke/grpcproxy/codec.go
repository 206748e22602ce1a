package grpcproxy

import (
	"google.golang.org/grpc/mem"

	"github.com/outrigger/outrigger/internal/grpccodec"
)

// frame is one gRPC message as raw bytes. The proxy never decodes what it
// forwards, so it works for any service and any message encoding.
type frame struct {
	data []byte
}

// MarshalBuffer sends the bytes as they are.
func (f *frame) MarshalBuffer() (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(f.data)}, nil
}

// UnmarshalBuffer keeps a copy: grpc recycles data once we return.
func (f *frame) UnmarshalBuffer(data mem.BufferSlice) error {
	f.data = data.Materialize()
	return nil
}

// rawCodec is the codec that lets frames through.
type rawCodec = grpccodec.Codec
