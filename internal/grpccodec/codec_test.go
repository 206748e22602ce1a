package grpccodec

import (
	"bytes"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// raw is a message that is its own wire form.
type raw struct{ b []byte }

func (r *raw) MarshalBuffer() (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(r.b)}, nil
}

func (r *raw) UnmarshalBuffer(d mem.BufferSlice) error {
	r.b = d.Materialize()
	return nil
}

func TestCodec(t *testing.T) {
	c := Codec{}
	if c.Name() != "proto" {
		t.Fatalf("name %q: the codec must stand in for proto", c.Name())
	}
	tests := []struct {
		name string
		in   any
		out  any
		same func(in, out any) bool
	}{
		{"proto message", wrapperspb.String("hello"), &wrapperspb.StringValue{},
			func(in, out any) bool { return proto.Equal(in.(proto.Message), out.(proto.Message)) }},
		{"self-encoding message", &raw{b: []byte{1, 2, 3}}, &raw{},
			func(in, out any) bool { return bytes.Equal(in.(*raw).b, out.(*raw).b) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wire, err := c.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Unmarshal(wire, tc.out); err != nil {
				t.Fatal(err)
			}
			if !tc.same(tc.in, tc.out) {
				t.Fatalf("%v came back as %v", tc.in, tc.out)
			}
		})
	}
	// A raw frame decodes as proto where the caller expects proto.
	wire, _ := c.Marshal(&raw{b: mustMarshal(t, wrapperspb.String("x"))})
	var got wrapperspb.StringValue
	if err := c.Unmarshal(wire, &got); err != nil || got.GetValue() != "x" {
		t.Fatalf("raw frame as proto: %v, %v", got.GetValue(), err)
	}
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
