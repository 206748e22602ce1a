package invoke

import (
	"strings"
	"testing"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

func lists(kv ...any) map[string]*internalsv1.ListStringValue {
	m := map[string]*internalsv1.ListStringValue{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = &internalsv1.ListStringValue{Values: kv[i+1].([]string)}
	}
	return m
}

func wireRequests() map[string]*internalsv1.InternalInvokeRequestStream {
	return map[string]*internalsv1.InternalInvokeRequestStream{
		"empty":        {},
		"payload only": {Payload: &commonv1.StreamPayload{Data: []byte("chunk"), Seq: 7}},
		"request without metadata": {Request: &internalsv1.InternalInvokeRequest{
			Ver:     internalsv1.APIVersion_V1,
			Message: &commonv1.InvokeRequest{Method: "m", ContentType: "text/plain"},
		}},
		"full request and first chunk": {
			Request: &internalsv1.InternalInvokeRequest{
				Ver: internalsv1.APIVersion_V1,
				Metadata: lists(
					"content-type", []string{"application/json"},
					"x-multi", []string{"a", "", "ü"},
					"x-none", []string{},
					"", []string{"empty key"},
				),
				Message: &commonv1.InvokeRequest{
					Method:        "orders/1",
					Data:          &anypb.Any{TypeUrl: "type.googleapis.com/x.Y", Value: []byte{1, 2}},
					ContentType:   "application/json",
					HttpExtension: &commonv1.HTTPExtension{Verb: commonv1.HTTPExtension_PATCH, Querystring: "a=1&b=2"},
				},
				Actor: &internalsv1.Actor{ActorType: "cart", ActorId: "c-1"},
			},
			Payload: &commonv1.StreamPayload{Data: []byte(`{"order":1}`)},
		},
	}
}

func wireResponses() map[string]*internalsv1.InternalInvokeResponseStream {
	return map[string]*internalsv1.InternalInvokeResponseStream{
		"status only": {Response: &internalsv1.InternalInvokeResponse{Status: &internalsv1.Status{Code: 204}}},
		"headers, trailers and body": {
			Response: &internalsv1.InternalInvokeResponse{
				Status:   &internalsv1.Status{Code: 404, Message: "not here"},
				Headers:  lists("Content-Type", []string{"text/plain"}, "Set-Cookie", []string{"a=1", "b=2"}),
				Trailers: lists("grpc-status", []string{"0"}),
				Message:  &commonv1.InvokeResponse{ContentType: "text/plain", Data: &anypb.Any{TypeUrl: "t"}},
			},
			Payload: &commonv1.StreamPayload{Data: []byte(strings.Repeat("x", 70000)), Seq: 0},
		},
	}
}

type (
	wireOut interface {
		MarshalBuffer() (mem.BufferSlice, error)
		Len() int
	}
	wireIn interface {
		UnmarshalBuffer(mem.BufferSlice) error
		Len() int
	}
)

// wireCase is a message with our encoder for it and a fresh decoder
// (returning the message it fills).
type wireCase struct {
	want  proto.Message
	out   wireOut
	fresh func() (proto.Message, wireIn)
}

func wireCases() map[string]wireCase {
	cases := map[string]wireCase{}
	for name, m := range wireRequests() {
		cases["request/"+name] = wireCase{m, &requestStreamOut{m: m}, func() (proto.Message, wireIn) {
			var got internalsv1.InternalInvokeRequestStream
			return &got, &requestStreamIn{m: &got}
		}}
	}
	for name, m := range wireResponses() {
		cases["response/"+name] = wireCase{m, &responseStreamOut{m: m}, func() (proto.Message, wireIn) {
			var got internalsv1.InternalInvokeResponseStream
			return &got, &responseStreamIn{m: &got}
		}}
	}
	return cases
}

// TestWireMatchesProtobuf checks the hand coding against protobuf-go both
// ways: what we send decodes as protobuf, what protobuf sends decodes
// through us, to the same message, and both report protobuf's size.
func TestWireMatchesProtobuf(t *testing.T) {
	for name, tc := range wireCases() {
		t.Run(name, func(t *testing.T) {
			viaProto := tc.want.ProtoReflect().New().Interface()
			roundTrip(t, tc.out, viaProto)
			if !proto.Equal(viaProto, tc.want) {
				t.Fatalf("protobuf read %v, want %v", viaProto, tc.want)
			}
			viaUs, in := tc.fresh()
			roundTrip(t, protoOut{tc.want}, in)
			if !proto.Equal(viaUs, tc.want) {
				t.Fatalf("we read %v, want %v", viaUs, tc.want)
			}
			if size := proto.Size(tc.want); tc.out.Len() != size || in.Len() != size {
				t.Errorf("sizes sent %d, received %d; protobuf's %d", tc.out.Len(), in.Len(), size)
			}
		})
	}
}

// protoOut sends m through protobuf-go, as a Dapr sidecar would.
type protoOut struct{ m proto.Message }

func (p protoOut) MarshalBuffer() (mem.BufferSlice, error) {
	b, err := proto.Marshal(p.m)
	return mem.BufferSlice{mem.SliceBuffer(b)}, err
}

// roundTrip encodes out and decodes the bytes into in, which is either a
// protobuf message or one of ours; the wire bytes arrive split in two
// buffers, as grpc may hand them over.
func roundTrip(t *testing.T, out interface {
	MarshalBuffer() (mem.BufferSlice, error)
}, in any) {
	t.Helper()
	data, err := out.MarshalBuffer()
	if err != nil {
		t.Fatal(err)
	}
	b := data.Materialize()
	data.Free()
	half := len(b) / 2
	split := mem.BufferSlice{mem.SliceBuffer(b[:half]), mem.SliceBuffer(b[half:])}
	switch v := in.(type) {
	case proto.Message:
		err = proto.Unmarshal(b, v)
	case interface{ UnmarshalBuffer(mem.BufferSlice) error }:
		err = v.UnmarshalBuffer(split)
	}
	if err != nil {
		t.Fatal(err)
	}
	// The decoded message must not alias the received bytes.
	for i := range b {
		b[i] = 0xff
	}
}

func TestWireKeepsUnknownFieldsAndRepeatedKeys(t *testing.T) {
	req := &internalsv1.InternalInvokeRequest{Message: &commonv1.InvokeRequest{Method: "m"}}
	// A field this version does not know, from a newer peer.
	unknown := protowire.AppendTag(nil, 99, protowire.BytesType)
	unknown = protowire.AppendString(unknown, "future")
	req.ProtoReflect().SetUnknown(unknown)
	wire, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	// The same key twice: as in protobuf, the last entry wins.
	for _, v := range []string{"first", "last"} {
		wire = appendListMap(wire, requestMetadata, lists("k", []string{v}))
	}
	var got internalsv1.InternalInvokeRequest
	if err := unmarshalWithMaps(wire, &got, []listMap{{requestMetadata, &got.Metadata}}); err != nil {
		t.Fatal(err)
	}
	if firstMD(got.Metadata, "k") != "last" || len(got.Metadata) != 1 {
		t.Errorf("metadata = %v, want k=last", got.Metadata)
	}
	if string(got.ProtoReflect().GetUnknown()) != string(unknown) || got.GetMessage().GetMethod() != "m" {
		t.Errorf("got %v, unknown %q", &got, got.ProtoReflect().GetUnknown())
	}
	// The tracing interceptor names the callee's span through GetRequest.
	wrapped := protowire.AppendTag(nil, streamMessageField, protowire.BytesType)
	wrapped = protowire.AppendBytes(wrapped, wire)
	in := &requestStreamIn{m: &internalsv1.InternalInvokeRequestStream{}}
	if err := in.UnmarshalBuffer(mem.BufferSlice{mem.SliceBuffer(wrapped)}); err != nil || in.GetRequest().GetMessage().GetMethod() != "m" {
		t.Errorf("GetRequest() = %v, %v", in.GetRequest(), err)
	}
	// Sent again, the unknown field goes along.
	var back internalsv1.InternalInvokeRequestStream
	roundTrip(t, &requestStreamOut{m: &internalsv1.InternalInvokeRequestStream{Request: &got}}, &back)
	if string(back.GetRequest().ProtoReflect().GetUnknown()) != string(unknown) {
		t.Errorf("unknown field lost on the way out: %q", back.GetRequest().ProtoReflect().GetUnknown())
	}
}

func TestWireRejectsBadInput(t *testing.T) {
	bad := string([]byte{0xff, 0xfe})
	for name, m := range map[string]map[string]*internalsv1.ListStringValue{
		"key not UTF-8":   lists(bad, []string{"v"}),
		"value not UTF-8": lists("k", []string{"ok", bad}),
	} {
		t.Run("send "+name, func(t *testing.T) {
			out := &requestStreamOut{m: &internalsv1.InternalInvokeRequestStream{Request: &internalsv1.InternalInvokeRequest{Metadata: m}}}
			if _, err := out.MarshalBuffer(); err == nil {
				t.Fatal("encoded a string that is not UTF-8; protobuf-go refuses to")
			}
			// Receiving such bytes (from a peer that does not check) fails too.
			inner := appendListMap(nil, requestMetadata, m)
			wire := protowire.AppendTag(nil, streamMessageField, protowire.BytesType)
			wire = protowire.AppendBytes(wire, inner)
			var got internalsv1.InternalInvokeRequestStream
			if err := (&requestStreamIn{m: &got}).UnmarshalBuffer(mem.BufferSlice{mem.SliceBuffer(wire)}); err == nil {
				t.Fatalf("decoded %v", &got)
			}
		})
	}
	truncated := protowire.AppendTag(nil, streamMessageField, protowire.BytesType)
	truncated = protowire.AppendVarint(truncated, 50) // longer than what follows
	truncated = append(truncated, 0x12, 0x03)
	entryCut := protowire.AppendTag(nil, requestMetadata, protowire.BytesType)
	entryCut = protowire.AppendBytes(entryCut, []byte{0x0a, 0x09, 'k'}) // key longer than the entry
	wrapped := protowire.AppendTag(nil, streamMessageField, protowire.BytesType)
	wrapped = protowire.AppendBytes(wrapped, entryCut)
	for name, wire := range map[string][]byte{"truncated message": truncated, "truncated map entry": wrapped} {
		t.Run(name, func(t *testing.T) {
			var got internalsv1.InternalInvokeRequestStream
			if err := (&requestStreamIn{m: &got}).UnmarshalBuffer(mem.BufferSlice{mem.SliceBuffer(wire)}); err == nil {
				t.Fatalf("decoded %v", &got)
			}
		})
	}
}

// TestWireCoversEveryField guards the copies MarshalBuffer makes of the
// messages without their maps: a field added by a newer Dapr proto would
// be left out of them silently, so a new field must fail here first.
func TestWireCoversEveryField(t *testing.T) {
	for _, tc := range []struct {
		msg  proto.Message
		want []string
	}{
		{&internalsv1.InternalInvokeRequest{}, []string{"ver", "metadata", "message", "actor"}},
		{&internalsv1.InternalInvokeResponse{}, []string{"status", "headers", "trailers", "message"}},
		{&internalsv1.InternalInvokeRequestStream{}, []string{"request", "payload"}},
		{&internalsv1.InternalInvokeResponseStream{}, []string{"response", "payload"}},
		{&commonv1.StreamPayload{}, []string{"data", "seq"}},
	} {
		fields := tc.msg.ProtoReflect().Descriptor().Fields()
		var got []string
		for i := range fields.Len() {
			got = append(got, string(fields.Get(i).Name()))
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s has fields %v; wire.go codes %v: teach it the new ones",
				tc.msg.ProtoReflect().Descriptor().FullName(), got, tc.want)
		}
	}
}
