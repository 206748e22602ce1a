package invoke

import (
	"bytes"
	"errors"
	"sync"
	"unicode/utf8"
	"unsafe"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// The first message of each direction of a CallLocalStream carries the
// request's metadata or the response's headers and trailers as
// map<string, ListStringValue> fields. protobuf-go encodes and decodes
// such maps through reflection, with several allocations per entry; on a
// small invocation that was about a quarter of the invocation layer's
// allocations. These wrappers code the map fields by hand and leave every
// other field, unknown ones included, to protobuf-go. The wire form is
// ordinary protobuf either way, so Dapr sidecars read what we send and we
// read what they send.

// Field numbers of the messages coded here.
const (
	streamMessageField = 1 // InternalInvokeRequestStream.request, InternalInvokeResponseStream.response
	streamPayloadField = 2 // ... .payload
	requestMetadata    = 2 // InternalInvokeRequest.metadata
	responseHeaders    = 2 // InternalInvokeResponse.headers
	responseTrailers   = 3 // InternalInvokeResponse.trailers
	payloadData        = 1 // StreamPayload.data
	payloadSeq         = 2 // StreamPayload.seq
	listMapKey         = 1 // map entry key
	listMapValue       = 2 // map entry value (a ListStringValue)
	listValues         = 1 // ListStringValue.values
)

var (
	errInvalidUTF8  = errors.New("string field contains invalid UTF-8")
	errMalformedMap = errors.New("malformed metadata map entry")
)

// listMap is one map<string, ListStringValue> field of a message.
type listMap struct {
	num protowire.Number
	m   *map[string]*internalsv1.ListStringValue
}

// wireSize is the encoded size of a message sent or received, for the
// metrics interceptors (which would otherwise compute it through
// reflection once more).
type wireSize struct{ n int }

// Len is the message's encoded size once it was sent or received.
func (w *wireSize) Len() int { return w.n }

// decode records the received message's size and decodes it with
// unmarshalStreamMessage.
func (w *wireSize) decode(data mem.BufferSlice, inner func([]byte) error, payload **commonv1.StreamPayload) error {
	w.n = data.Len()
	b := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer b.Free()
	return unmarshalStreamMessage(b.ReadOnlyData(), inner, payload)
}

// requestStreamOut sends an InternalInvokeRequestStream.
type requestStreamOut struct {
	m *internalsv1.InternalInvokeRequestStream
	wireSize
}

// MarshalBuffer implements grpccodec.BufferMarshaler.
func (o *requestStreamOut) MarshalBuffer() (mem.BufferSlice, error) {
	return o.parts().marshalBuffer(&o.n)
}

func (o *requestStreamOut) parts() streamParts {
	p := streamParts{payload: o.m.GetPayload()}
	if r := o.m.GetRequest(); r != nil {
		rest := &internalsv1.InternalInvokeRequest{Ver: r.Ver, Message: r.Message, Actor: r.Actor}
		rest.ProtoReflect().SetUnknown(r.ProtoReflect().GetUnknown())
		p.inner, p.maps = rest, [2]listMap{{requestMetadata, &r.Metadata}}
	}
	return p
}

// responseStreamOut sends an InternalInvokeResponseStream.
type responseStreamOut struct {
	m *internalsv1.InternalInvokeResponseStream
	wireSize
}

// MarshalBuffer implements grpccodec.BufferMarshaler.
func (o *responseStreamOut) MarshalBuffer() (mem.BufferSlice, error) {
	return o.parts().marshalBuffer(&o.n)
}

func (o *responseStreamOut) parts() streamParts {
	p := streamParts{payload: o.m.GetPayload()}
	if r := o.m.GetResponse(); r != nil {
		rest := &internalsv1.InternalInvokeResponse{Status: r.Status, Message: r.Message}
		rest.ProtoReflect().SetUnknown(r.ProtoReflect().GetUnknown())
		p.inner, p.maps = rest, [2]listMap{{responseHeaders, &r.Headers}, {responseTrailers, &r.Trailers}}
	}
	return p
}

// requestStreamIn receives an InternalInvokeRequestStream.
type requestStreamIn struct {
	m *internalsv1.InternalInvokeRequestStream
	wireSize
}

// GetRequest is the decoded message's request, as on the generated type,
// for the tracing interceptor that names the server span after it.
func (in *requestStreamIn) GetRequest() *internalsv1.InternalInvokeRequest { return in.m.GetRequest() }

// UnmarshalBuffer implements grpccodec.BufferUnmarshaler.
func (in *requestStreamIn) UnmarshalBuffer(data mem.BufferSlice) error {
	in.m.Reset()
	return in.decode(data, func(v []byte) error {
		r := &internalsv1.InternalInvokeRequest{}
		in.m.Request = r
		return unmarshalWithMaps(v, r, []listMap{{requestMetadata, &r.Metadata}})
	}, &in.m.Payload)
}

// responseStreamIn receives an InternalInvokeResponseStream.
type responseStreamIn struct {
	m *internalsv1.InternalInvokeResponseStream
	wireSize
}

// UnmarshalBuffer implements grpccodec.BufferUnmarshaler.
func (in *responseStreamIn) UnmarshalBuffer(data mem.BufferSlice) error {
	in.m.Reset()
	return in.decode(data, func(v []byte) error {
		r := &internalsv1.InternalInvokeResponse{}
		in.m.Response = r
		return unmarshalWithMaps(v, r, []listMap{{responseHeaders, &r.Headers}, {responseTrailers, &r.Trailers}})
	}, &in.m.Payload)
}

// streamParts is a stream message to encode: field 1 is inner (may be
// nil) plus its map fields, field 2 the payload (may be nil).
type streamParts struct {
	inner proto.Message
	// maps are inner's map fields; unused entries have a nil m. An array,
	// so building the parts allocates nothing.
	maps    [2]listMap
	payload *commonv1.StreamPayload
}

// encoder sizes the message; append then encodes it.
func (p streamParts) encoder() (streamEncoder, error) {
	e := streamEncoder{streamParts: p}
	if p.inner != nil {
		e.innerSize = proto.Size(p.inner)
		for _, lm := range p.maps {
			if lm.m == nil {
				continue
			}
			n, err := listMapSize(lm.num, *lm.m)
			if err != nil {
				return e, err
			}
			e.innerSize += n
		}
		e.total += protowire.SizeTag(streamMessageField) + protowire.SizeBytes(e.innerSize)
	}
	if p.payload != nil {
		e.payloadSize = payloadMessageSize(p.payload)
		e.total += protowire.SizeTag(streamPayloadField) + protowire.SizeBytes(e.payloadSize)
	}
	return e, nil
}

// streamEncoder is a sized stream message.
type streamEncoder struct {
	streamParts
	innerSize, payloadSize, total int
}

// append encodes the message after b.
func (e streamEncoder) append(b []byte) ([]byte, error) {
	start := len(b)
	if e.inner != nil {
		b = protowire.AppendTag(b, streamMessageField, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(e.innerSize))
		var err error
		b, err = proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(b, e.inner)
		if err != nil {
			return nil, err
		}
		for _, lm := range e.maps {
			if lm.m != nil {
				b = appendListMap(b, lm.num, *lm.m)
			}
		}
	}
	if e.payload != nil {
		b = protowire.AppendTag(b, streamPayloadField, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(e.payloadSize))
		b = appendPayload(b, e.payload)
	}
	if len(b)-start != e.total {
		return nil, errors.New("stream message changed while it was encoded")
	}
	return b, nil
}

// marshalBuffer encodes the message into a pooled buffer for gRPC and
// records its size.
func (p streamParts) marshalBuffer(size *int) (mem.BufferSlice, error) {
	e, err := p.encoder()
	if err != nil {
		return nil, err
	}
	pool := mem.DefaultBufferPool()
	buf := pool.Get(e.total)
	b, err := e.append((*buf)[:0])
	if err != nil {
		pool.Put(buf)
		return nil, err
	}
	*buf = b
	*size = e.total
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}

func payloadMessageSize(p *commonv1.StreamPayload) int {
	n := 0
	if len(p.Data) > 0 {
		n += protowire.SizeTag(payloadData) + protowire.SizeBytes(len(p.Data))
	}
	if p.Seq != 0 {
		n += protowire.SizeTag(payloadSeq) + protowire.SizeVarint(p.Seq)
	}
	return n
}

func appendPayload(b []byte, p *commonv1.StreamPayload) []byte {
	if len(p.Data) > 0 {
		b = protowire.AppendTag(b, payloadData, protowire.BytesType)
		b = protowire.AppendBytes(b, p.Data)
	}
	if p.Seq != 0 {
		b = protowire.AppendTag(b, payloadSeq, protowire.VarintType)
		b = protowire.AppendVarint(b, p.Seq)
	}
	return b
}

// listValueSize is the encoded size of a ListStringValue.
func listValueSize(v *internalsv1.ListStringValue) int {
	n := 0
	for _, s := range v.GetValues() {
		n += protowire.SizeTag(listValues) + protowire.SizeBytes(len(s))
	}
	return n
}

// listEntrySize is the encoded size of one map entry's message, given
// its value's size.
func listEntrySize(k string, valueSize int) int {
	return protowire.SizeTag(listMapKey) + protowire.SizeBytes(len(k)) +
		protowire.SizeTag(listMapValue) + protowire.SizeBytes(valueSize)
}

// listMapSize is the encoded size of map field num, and an error for a
// string that is not UTF-8 (as protobuf-go refuses to send one).
func listMapSize(num protowire.Number, m map[string]*internalsv1.ListStringValue) (int, error) {
	n := 0
	for k, v := range m {
		if !utf8.ValidString(k) {
			return 0, errInvalidUTF8
		}
		for _, s := range v.GetValues() {
			if !utf8.ValidString(s) {
				return 0, errInvalidUTF8
			}
		}
		n += protowire.SizeTag(num) + protowire.SizeBytes(listEntrySize(k, listValueSize(v)))
	}
	return n, nil
}

// appendListMap encodes map field num.
func appendListMap(b []byte, num protowire.Number, m map[string]*internalsv1.ListStringValue) []byte {
	for k, v := range m {
		vs := listValueSize(v)
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(listEntrySize(k, vs)))
		b = protowire.AppendTag(b, listMapKey, protowire.BytesType)
		b = protowire.AppendString(b, k)
		b = protowire.AppendTag(b, listMapValue, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(vs))
		for _, s := range v.GetValues() {
			b = protowire.AppendTag(b, listValues, protowire.BytesType)
			b = protowire.AppendString(b, s)
		}
	}
	return b
}

// unmarshalStreamMessage decodes a stream message: field 1 through inner,
// field 2 into *payload, its data copied out of b.
func unmarshalStreamMessage(b []byte, inner func([]byte) error, payload **commonv1.StreamPayload) error {
	p, err := parseStreamMessage(b, inner)
	if p != nil {
		p.Data = bytes.Clone(p.Data)
	}
	*payload = p
	return err
}

// unmarshalWithMaps decodes b into m, the map fields in maps by hand and
// every other field through protobuf-go.
func unmarshalWithMaps(b []byte, m proto.Message, maps []listMap) error {
	restBuf := restPool.Get().(*[]byte)
	defer restPool.Put(restBuf)
	rest := (*restBuf)[:0]
	var entriesArr [16][]byte
	var numsArr [16]int
	entries, nums := entriesArr[:0], numsArr[:0]
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		fieldLen := protowire.ConsumeFieldValue(num, typ, b[n:])
		if fieldLen < 0 {
			return protowire.ParseError(fieldLen)
		}
		field := b[:n+fieldLen]
		b = b[n+fieldLen:]
		i := mapIndex(maps, num)
		if i < 0 || typ != protowire.BytesType {
			rest = append(rest, field...)
			continue
		}
		v, _ := protowire.ConsumeBytes(field[n:])
		entries = append(entries, v)
		nums = append(nums, i)
	}
	*restBuf = rest
	if err := proto.Unmarshal(rest, m); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	return decodeListMaps(entries, nums, maps)
}

// restPool holds the buffers unmarshalWithMaps gathers the other fields
// in; protobuf-go copies what it keeps out of them.
var restPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func mapIndex(maps []listMap, num protowire.Number) int {
	for i, lm := range maps {
		if lm.num == num {
			return i
		}
	}
	return -1
}

// decodeListMaps fills the maps from their entries (nums[i] is the map of
// entries[i]). All keys and values share one string, all values one
// slice and all ListStringValues one array: a handful of allocations for
// the whole map instead of several per entry.
func decodeListMaps(entries [][]byte, nums []int, maps []listMap) error {
	size, values := 0, 0
	for _, e := range entries {
		size += len(e)
		n, err := countListValues(e)
		if err != nil {
			return err
		}
		values += n
	}
	arena := make([]byte, 0, size)
	for _, e := range entries {
		arena = append(arena, e...)
	}
	strs := make([]string, 0, values)
	lists := make([]internalsv1.ListStringValue, len(entries))
	off := 0
	for i, e := range entries {
		e = arena[off : off+len(e)]
		off += len(e)
		key, start := "", len(strs)
		err := eachField(e, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
			switch {
			case num == listMapKey && typ == protowire.BytesType:
				key = arenaString(v)
			case num == listMapValue && typ == protowire.BytesType:
				return eachField(v, func(num protowire.Number, typ protowire.Type, w []byte, _ uint64) error {
					if num == listValues && typ == protowire.BytesType {
						strs = append(strs, arenaString(w))
					}
					return nil
				})
			}
			return nil
		})
		if err != nil {
			return err
		}
		if !utf8.ValidString(key) {
			return errInvalidUTF8
		}
		for _, v := range strs[start:] {
			if !utf8.ValidString(v) {
				return errInvalidUTF8
			}
		}
		l := &lists[i]
		if len(strs) > start {
			l.Values = strs[start:len(strs):len(strs)]
		}
		m := maps[nums[i]].m
		if *m == nil {
			*m = make(map[string]*internalsv1.ListStringValue, countOf(nums, nums[i]))
		}
		(*m)[key] = l // as in proto, a repeated key keeps its last value
	}
	return nil
}

// countOf is how many times n occurs in nums.
func countOf(nums []int, n int) int {
	c := 0
	for _, x := range nums {
		if x == n {
			c++
		}
	}
	return c
}

// countListValues counts the values of one map entry, checking its form.
func countListValues(e []byte) (int, error) {
	n := 0
	err := eachField(e, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num != listMapValue || typ != protowire.BytesType {
			return nil
		}
		return eachField(v, func(num protowire.Number, typ protowire.Type, _ []byte, _ uint64) error {
			if num == listValues && typ == protowire.BytesType {
				n++
			}
			return nil
		})
	})
	if err != nil {
		return 0, errMalformedMap
	}
	return n, nil
}

// arenaString is b as a string without a copy. b lies in decodeListMaps'
// arena, which is never written after it is filled.
func arenaString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
