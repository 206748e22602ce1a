package pubsub

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/jsonwire"
)

// canonicalSeeds are JSON payloads (valid or not) whose envelope data the
// fast path must encode exactly as encoding/json does.
var canonicalSeeds = []string{
	``, ` `, `null`, `true`, `false`, `nul`, `tru e`, `0`, `-0`, `12`, `-12.5e+3`, `1E5`, `0.5`, `01`, `1.`, `.5`, `-`, `1e`, `1e+`,
	`12345678901234567890123456789`, `"s"`, `""`, `"<a & b>"`, `"tab\there"`, `"quote\"d"`, `"\u00e9\u2028\u2029"`,
	`"é ü 日本"`, "\"\xff\xfe\"", "\"a\x01b\"", `"\ud83d\ude00"`, `"\ud800"`, `"\x"`, `"unterminated`, `"\/"`,
	`{}`, `[]`, `{ }`, `[ ]`, `{"a":1}`, `{"b":1,"a":2}`, `{"a":1,"a":2}`, `{"b":1,"a":2,"b":3}`, `{"a":{"d":[1,{"z":0,"y":null}],"c":"x"}}`,
	` {"p":1,"n":123456,"t":1732199999123456789} `, "{\n  \"k\" : [ 1 , 2 ]\n}\n", `{"a":1}{"b":2}`, `{"a":1} x`, `[1,2] `, `[1,,2]`, `[1 2]`,
	`{"a" 1}`, `{"a":1,}`, `{,"a":1}`, `{"a":1`, `[1`, `{"\u0062":1,"a":2}`, `{"b":1,"\u0061":2}`, `{"é":1,"e":2}`, "{\"\xff\":1,\"\xfe\":2}",
	`{"<":1,">":2,"&":3}`, `{1:2}`, `[true,false,null]`, `[tru]`, `"a` + strings.Repeat("x", 100) + `"`,
	strings.Repeat("[", 1001) + strings.Repeat("]", 1001), strings.Repeat(`{"a":`, 1001) + "1" + strings.Repeat("}", 1001),
	strings.Repeat("[", 20000) + strings.Repeat("]", 20000),
}

// legacyData is how the envelope's data was built before the fast path:
// decode the first value with exact numbers and marshal it again, or keep
// the raw string when it does not decode.
func legacyData(data []byte) []byte {
	if v, err := decodeFirst(data); err == nil {
		if b, err := json.Marshal(v); err == nil {
			return b
		}
	}
	b, _ := json.Marshal(string(data))
	return b
}

func checkCanonical(t *testing.T, data []byte) {
	t.Helper()
	got := appendData(nil, "application/json", data)
	want := append([]byte(`"data":`), legacyData(data)...)
	if string(got) != string(want) {
		t.Errorf("data %q:\n got %s\nwant %s", data, got, want)
	}
}

func TestAppendDataMatchesEncodingJSON(t *testing.T) {
	for _, s := range canonicalSeeds {
		checkCanonical(t, []byte(s))
	}
}

func FuzzAppendData(f *testing.F) {
	for _, s := range canonicalSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkCanonical)
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "<>&", "\"\\", "\x00\x1f\x7f", "\b\f\n\r\t", "é\u2028\u2029", "\xff", "日本"} {
		want, _ := json.Marshal(s)
		if got := jsonwire.AppendString(nil, s); string(got) != string(want) {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
}

// legacyEnvelope is the envelope as a map marshalled by encoding/json,
// the construction appendCloudEvent replaced.
func legacyEnvelope(req EnvelopeRequest) []byte {
	o := overridesFrom(req.Metadata)
	trace := o.get("traceparent", "")
	if trace == "" {
		trace = o.get("traceid", req.TraceParent)
	}
	ct := req.ContentType
	if ct == "" {
		ct = defaultContentType
	}
	ce := map[string]any{
		CEID: o.get("id", ""), CESource: o.get("source", req.Source), CEType: o.get("type", ""), CESpecVersion: SpecVersion,
		CEDataContentType: ct, CETopic: req.Topic, CEPubSubName: req.PubSub, CETraceID: trace, CETraceParent: trace,
		CETraceState: o.get("tracestate", req.TraceState), CETime: req.Now.Format(time.RFC3339),
	}
	if ce[CEType] == "" {
		ce[CEType] = DefaultEventType
	}
	if s := o.get("subject", ""); s != "" {
		ce[CESubject] = s
	}
	switch {
	case IsJSONContentType(ct):
		ce[CEData] = json.RawMessage(legacyData(req.Data))
	case IsBinaryContentType(ct):
		ce[CEDataBase64] = base64.StdEncoding.EncodeToString(req.Data)
	default:
		ce[CEData] = string(req.Data)
	}
	if req.TTL > 0 {
		ce[CEExpiration] = req.Now.Add(req.TTL).UTC().Format(time.RFC3339)
	}
	b, _ := json.Marshal(ce)
	return b
}

func TestNewEnvelopeMatchesMapEncoding(t *testing.T) {
	all := map[string]string{"cloudevent.id": "i<d>", "cloudevent.source": "s\u2028", "cloudevent.type": "t", "cloudevent.subject": "subj&",
		"cloudevent.traceparent": "tp", "cloudevent.tracestate": "ts"}
	for _, md := range []map[string]string{{"cloudevent.id": "x"}, all} {
		for _, ct := range []string{"", "text/plain", "application/json", "application/octet-stream", "application/xml", "image/png"} {
			for _, data := range []string{``, `{"b":[1,2],"a":"<x>"}`, "caf\xe9 \"q\"", `null`} {
				for _, ttl := range []time.Duration{0, time.Minute} {
					req := EnvelopeRequest{Source: "app", Topic: "t/ö", PubSub: "ps", ContentType: ct, Data: []byte(data),
						TraceParent: "00-aa-bb-01", TraceState: "k=v", Metadata: md, TTL: ttl, Now: now}
					got, err := NewEnvelope(req)
					if err != nil {
						t.Fatal(err)
					}
					if want := legacyEnvelope(req); string(got) != string(want) {
						t.Errorf("ct %q data %q ttl %v md %v:\n got %s\nwant %s", ct, data, ttl, md, got, want)
					}
				}
			}
		}
	}
}

// envelopeSeeds are delivered bodies, CloudEvents or not, whose head
// ScanEnvelope must read exactly as ParseEnvelope's map holds it.
var envelopeSeeds = []string{
	``, ` `, `null`, `[]`, `"s"`, `1`, `{`, `{}`, ` {} `, `{} {}`, `{}}`, `{"id":"a"} x`,
	`{"id":"a","traceparent":"tp","tracestate":"ts","expiration":"2024-05-06T05:08:08Z","data":{"id":"inner","x":[1,"]}",{"a":"}"}]}}`,
	`{"data":"{\"id\":\"no\"}","id":"yes"}`, `{"id":1,"traceparent":null,"tracestate":true,"expiration":{"a":1}}`,
	`{"id":"a","id":"b"}`, `{"id":"a","id":2}`, `{"\u0069d":"esc","trace\u0070arent":"\u00e9\"q\""}`, "{\"id\":\"caf\xe9\"}",
	`{"ID":"upper"}`, `{ "id" : "spaced" , "x" : -1.5e3 }`, "{\"id\":\"a\",\n\t\"data\": [true, false, null]}",
	`{"id":"\ud800"}`, `{"a":"\\","id":"after backslash"}`, `{"id":"a"`, `{"id":"a",}`, `{"id" "a"}`,
	`{"a":"\x"}`, `{"a":"\u12"}`, `{"a":"\u12G4"}`, `{"a":"\u00e9\/\b\f\n\r\t\"\\"}`, "{\"a\":\"\x01\"}", "{\"a\":\"\x7f\xff\"}",
	`{"a":-}`, `{"a":01}`, `{"a":1.}`, `{"a":1e+}`, `{"a":-0.5E-3}`, `{"a":tru}`, `{"a":truex}`, `{"a":1x}`, `{"a":[1,]}`, `{"a":[,1]}`,
	`{"a":{"b":}}`, `{"a":{"b" 1}}`, `{"a":{1:2}}`, `{"a":[]}`, `{"a":{}}`, `{"a" : [ { } , [ ] ] }`, `{"":""}`, `{"id":"a"}` + "\x00",
	`{"a":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`,
	`{"a":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
	strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000),
	strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001),
}

func checkScan(t *testing.T, data []byte) {
	t.Helper()
	head, err := ScanEnvelope(data)
	ce, perr := ParseEnvelope(data)
	if (err == nil) != (perr == nil) || (err != nil && err.Error() != perr.Error()) {
		t.Fatalf("body %q: ScanEnvelope error %v, ParseEnvelope error %v", data, err, perr)
	}
	if err != nil {
		return
	}
	str := func(k string) string { s, _ := ce[k].(string); return s }
	want := EnvelopeHead{ID: str(CEID), TraceParent: str(CETraceParent), TraceState: str(CETraceState), Expiration: str(CEExpiration)}
	if head != want {
		t.Fatalf("body %q: head %+v, want %+v", data, head, want)
	}
}

func TestScanEnvelopeMatchesParseEnvelope(t *testing.T) {
	for _, s := range envelopeSeeds {
		checkScan(t, []byte(s))
	}
}

func FuzzScanEnvelope(f *testing.F) {
	for _, s := range envelopeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkScan)
}
