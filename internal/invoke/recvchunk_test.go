package invoke

import (
	"bytes"
	"errors"
	"testing"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

func TestRecvChunkDecodesWhatProtoEncodes(t *testing.T) {
	big := bytes.Repeat([]byte{7}, recvBufSize+10)
	withUnknown := func(m proto.Message) []byte {
		b, _ := proto.Marshal(m)
		b = protowire.AppendTag(b, 9, protowire.VarintType)
		return protowire.AppendVarint(b, 42)
	}
	tests := []struct {
		name     string
		wire     []byte
		wantData []byte
		wantSeq  uint64
		noChunk  bool
	}{
		{name: "request chunk", wire: marshal(t, &internalsv1.InternalInvokeRequestStream{
			Payload: &commonv1.StreamPayload{Data: []byte("hello"), Seq: 3}}), wantData: []byte("hello"), wantSeq: 3},
		{name: "response chunk with head", wire: marshal(t, &internalsv1.InternalInvokeResponseStream{
			Response: &internalsv1.InternalInvokeResponse{Status: &internalsv1.Status{Code: 200}},
			Payload:  &commonv1.StreamPayload{Data: []byte("x"), Seq: 0}}), wantData: []byte("x")},
		{name: "empty payload", wire: marshal(t, &internalsv1.InternalInvokeRequestStream{
			Payload: &commonv1.StreamPayload{Seq: 5}}), wantSeq: 5},
		{name: "no payload", wire: marshal(t, &internalsv1.InternalInvokeRequestStream{
			Request: &internalsv1.InternalInvokeRequest{Ver: 1}}), noChunk: true},
		{name: "unknown fields skipped", wire: withUnknown(&internalsv1.InternalInvokeRequestStream{
			Payload: &commonv1.StreamPayload{Data: []byte("u"), Seq: 1}}), wantData: []byte("u"), wantSeq: 1},
		{name: "larger than the pooled buffers", wire: marshal(t, &internalsv1.InternalInvokeRequestStream{
			Payload: &commonv1.StreamPayload{Data: big, Seq: 2}}), wantData: big, wantSeq: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &recvChunk{}
			// Split across two grpc buffers, as a frame read in parts is.
			half := len(tc.wire) / 2
			data := mem.BufferSlice{mem.SliceBuffer(tc.wire[:half]), mem.SliceBuffer(tc.wire[half:])}
			if err := c.UnmarshalBuffer(data); err != nil {
				t.Fatal(err)
			}
			defer c.release()
			if tc.noChunk {
				if c.payload != nil {
					t.Fatalf("payload %v, want none", c.payload)
				}
				return
			}
			if c.payload == nil || !bytes.Equal(c.payload.GetData(), tc.wantData) || c.payload.GetSeq() != tc.wantSeq {
				t.Fatalf("got %d bytes seq %d, want %d bytes seq %d", len(c.payload.GetData()), c.payload.GetSeq(), len(tc.wantData), tc.wantSeq)
			}
			// The data lives in the chunk's own buffer, not in grpc's.
			tc.wire[len(tc.wire)-1] ^= 0xff
			if len(tc.wantData) > 0 && c.payload.GetData()[len(c.payload.GetData())-1] != tc.wantData[len(tc.wantData)-1] {
				t.Fatal("the payload aliases grpc's buffer, which grpc recycles")
			}
		})
	}
}

func TestRecvChunkRejectsMalformed(t *testing.T) {
	for _, wire := range [][]byte{
		{0x12, 0x05, 'a'},        // payload length past the end
		{0x12, 0x02, 0x0a, 0x09}, // data length past the payload's end
		{0xff},                   // truncated tag
	} {
		c := &recvChunk{}
		if err := c.UnmarshalBuffer(mem.BufferSlice{mem.SliceBuffer(wire)}); err == nil {
			t.Fatalf("%x decoded without error", wire)
		}
		if c.buf != nil {
			t.Fatal("a failed decode kept its buffer")
		}
	}
}

// chunkStream hands out one encoded chunk per RecvMsg.
type chunkStream struct {
	t      *testing.T
	r      *payloadReader
	chunks [][]byte
	i      int
}

func (s *chunkStream) RecvMsg(m any) error {
	if s.r.msg.buf != nil {
		s.t.Fatalf("chunk %d still held when the next is received", s.i-1)
	}
	if s.i == len(s.chunks) {
		return errEnd
	}
	wire := marshal(s.t, &internalsv1.InternalInvokeRequestStream{Payload: &commonv1.StreamPayload{Data: s.chunks[s.i], Seq: uint64(s.i)}})
	s.i++
	return m.(*recvChunk).UnmarshalBuffer(mem.BufferSlice{mem.SliceBuffer(wire)})
}

func TestPayloadReaderReleasesChunks(t *testing.T) {
	var r payloadReader
	stream := &chunkStream{t: t, r: &r, chunks: [][]byte{[]byte("ab"), []byte("cd"), []byte("e")}}
	r.recv = func() (*commonv1.StreamPayload, error) { return r.recvPooled(stream) }
	var got bytes.Buffer
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if got.String() != "abcde" {
		t.Fatalf("read %q", got.String())
	}
	if r.msg.buf != nil {
		t.Fatal("last chunk not released at the end")
	}
}

var errEnd = errors.New("end of the test stream")

func marshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
