package pubsub

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
)

// now is a fixed publish time in a non-UTC zone, so goldens show the local
// offset for `time` and UTC for `expiration`.
var now = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", 2*3600))

func TestNewEnvelopeGolden(t *testing.T) {
	id := map[string]string{"cloudevent.id": "id-1"}
	tests := []struct {
		name string
		req  EnvelopeRequest
		want string
	}{
		{"text default content type", EnvelopeRequest{Data: []byte("hello <b> & co")},
			`{"data":"hello \u003cb\u003e \u0026 co","datacontenttype":"text/plain","id":"id-1","pubsubname":"ps","source":"app1","specversion":"1.0","time":"2024-05-06T07:08:09+02:00","topic":"orders","traceid":"","traceparent":"","tracestate":"","type":"com.dapr.event.sent"}`},
		{"json object, keys sorted, numbers exact", EnvelopeRequest{ContentType: "application/json", Data: []byte(`{"b": 12345678901234567890, "a": [1.50, 2e3], "c": null}`)},
			`{"data":{"a":[1.50,2e3],"b":12345678901234567890,"c":null},"datacontenttype":"application/json","id":"id-1","pubsubname":"ps","source":"app1","specversion":"1.0","time":"2024-05-06T07:08:09+02:00","topic":"orders","traceid":"","traceparent":"","tracestate":"","type":"com.dapr.event.sent"}`},
		{"json with params, string value", EnvelopeRequest{ContentType: "Application/JSON; charset=utf-8", Data: []byte(`"hi"`)},
			`{"data":"hi","datacontenttype":"Application/JSON; charset=utf-8","id":"id-1","pubsubname":"ps","source":"app1","specversion":"1.0","time":"2024-05-06T07:08:09+02:00","topic":"orders","traceid":"","traceparent":"","tracestate":"","type":"com.dapr.event.sent"}`},
		{"unparsable json becomes the raw string", EnvelopeRequest{ContentType: "application/json", Data: []byte(`{not json`)},
			`{"data":"{not json","datacontenttype":"application/json","id":"id-1","pubsubname":"ps","source":"app1","specversion":"1.0","time":"2024-05-06T07:08:09+02:00","topic":"orders","traceid":"","traceparent":"","tracestate":"","type":"com.dapr.event.sent"}`},
		{"empty json body becomes an empty string", EnvelopeRequest{ContentType: "application/json"},
			`{"data":"","datacontenttype":"application/json","id":"id-1","pubsubname":"ps","source":"app1","specversion":"1.0","time":"2024-05-06T07:08:09+02:00","topic":"orders","traceid":"","traceparent":"","tracestate":"","type":"com.dapr.event.sent"}`},
		{"octet-stream goes to data_base64", EnvelopeRequest{ContentType: "application/octet-stream", Data: []byte{0xff, 0x00, 0x01}},
			`{"data_base64":"/wAB","datacontenttype":"application/octet-stream","id":"id-1","pubsubname":"ps","source":"app1","specversion":"1.0","time":"2024-05-06T07:08:09+02:00","topic":"orders","traceid":"","traceparent":"","tracestate":"","type":"com.dapr.event.sent"}`},
		{"xml is a string", EnvelopeRequest{ContentType: "application/xml", Data: []byte(`<a/>`)},
			`{"data":"\u003ca/\u003e","datacontenttype":"application/xml","id":"id-1","pubsubname":"ps","source":"app1","specversion":"1.0","time":"2024-05-06T07:08:09+02:00","topic":"orders","traceid":"","traceparent":"","tracestate":"","type":"com.dapr.event.sent"}`},
		{"trace context from the span", EnvelopeRequest{Data: []byte("x"), TraceParent: "00-aa-bb-01", TraceState: "k=v"},
			`{"data":"x","datacontenttype":"text/plain","id":"id-1","pubsubname":"ps","source":"app1","specversion":"1.0","time":"2024-05-06T07:08:09+02:00","topic":"orders","traceid":"00-aa-bb-01","traceparent":"00-aa-bb-01","tracestate":"k=v","type":"com.dapr.event.sent"}`},
		{"ttl adds expiration in UTC", EnvelopeRequest{Data: []byte("x"), TTL: 90 * time.Second},
			`{"data":"x","datacontenttype":"text/plain","expiration":"2024-05-06T05:09:39Z","id":"id-1","pubsubname":"ps","source":"app1","specversion":"1.0","time":"2024-05-06T07:08:09+02:00","topic":"orders","traceid":"","traceparent":"","tracestate":"","type":"com.dapr.event.sent"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			req.Source, req.Topic, req.PubSub, req.Now = "app1", "orders", "ps", now
			if req.Metadata == nil {
				req.Metadata = id
			}
			got, err := NewEnvelope(req)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("envelope =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestNewEnvelopeOverrides(t *testing.T) {
	tests := []struct {
		name string
		md   map[string]string
		want string
	}{
		{"all overrides, keys in any case",
			map[string]string{"CloudEvent.ID": "my-id", "cloudevent.Source": "src", "cloudevent.type": "t1", "cloudevent.subject": "subj",
				"cloudevent.traceid": "tid", "cloudevent.traceparent": "tp", "cloudevent.tracestate": "ts", "partitionKey": "k"},
			`{"data":"x","datacontenttype":"text/plain","id":"my-id","pubsubname":"ps","source":"src","specversion":"1.0","subject":"subj","time":"2024-05-06T07:08:09+02:00","topic":"orders","traceid":"tp","traceparent":"tp","tracestate":"ts","type":"t1"}`},
		{"traceid alone sets both trace fields",
			map[string]string{"cloudevent.id": "i", "cloudevent.traceid": "tid"},
			`{"data":"x","datacontenttype":"text/plain","id":"i","pubsubname":"ps","source":"app1","specversion":"1.0","time":"2024-05-06T07:08:09+02:00","topic":"orders","traceid":"tid","traceparent":"tid","tracestate":"","type":"com.dapr.event.sent"}`},
		{"empty traceparent does not win; empty source is kept; empty type defaults",
			map[string]string{"cloudevent.id": "i", "cloudevent.traceid": "tid", "cloudevent.traceparent": "", "cloudevent.source": "", "cloudevent.type": ""},
			`{"data":"x","datacontenttype":"text/plain","id":"i","pubsubname":"ps","source":"","specversion":"1.0","time":"2024-05-06T07:08:09+02:00","topic":"orders","traceid":"tid","traceparent":"tid","tracestate":"","type":"com.dapr.event.sent"}`},
		{"lowercase key beats another case",
			map[string]string{"cloudevent.ID": "upper", "cloudevent.id": "lower"},
			""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 5 { // map order must not matter
				got, err := NewEnvelope(EnvelopeRequest{Source: "app1", Topic: "orders", PubSub: "ps", Data: []byte("x"), Metadata: tt.md, Now: now})
				if err != nil {
					t.Fatal(err)
				}
				if tt.want == "" {
					if ce := mustParse(t, got); ce[CEID] != "lower" {
						t.Fatalf("id = %v", ce[CEID])
					}
					continue
				}
				if string(got) != tt.want {
					t.Fatalf("envelope =\n%s\nwant\n%s", got, tt.want)
				}
			}
		})
	}
}

func TestNewEnvelopeRandomID(t *testing.T) {
	a, _ := NewEnvelope(EnvelopeRequest{Data: []byte("x")})
	b, _ := NewEnvelope(EnvelopeRequest{Data: []byte("x")})
	ida, idb := mustParse(t, a)[CEID].(string), mustParse(t, b)[CEID].(string)
	if _, err := uuid.Parse(ida); err != nil || ida == idb {
		t.Fatalf("ids %q %q", ida, idb)
	}
	tm, err := time.Parse(time.RFC3339, mustParse(t, a)[CETime].(string))
	if err != nil || time.Since(tm) > time.Minute {
		t.Fatalf("time = %v, %v", tm, err)
	}
}

func TestNewEnvelopeUserCloudEvent(t *testing.T) {
	tests := []struct {
		name string
		body string
		ttl  time.Duration
		want string
	}{
		{"complete event kept, topic and pubsub overwritten",
			`{"id":"u1","source":"me","type":"t","specversion":"1.0","datacontenttype":"application/json","data":{"n":1.10},"topic":"old","pubsubname":"old","time":"2020-01-01T00:00:00Z","traceid":"a","traceparent":"b","tracestate":"c","custom":"x"}`,
			0,
			`{"custom":"x","data":{"n":1.10},"datacontenttype":"application/json","id":"u1","pubsubname":"ps","source":"me","specversion":"1.0","time":"2020-01-01T00:00:00Z","topic":"orders","traceid":"a","traceparent":"b","tracestate":"c","type":"t"}`},
		{"missing attributes defaulted (null counts as missing)",
			`{"id":"u2","data":"d","source":null}`,
			0,
			`{"data":"d","id":"u2","pubsubname":"ps","source":"Dapr","specversion":"1.0","time":"2024-05-06T07:08:09+02:00","topic":"orders","traceid":"00-aa-bb-01","traceparent":"00-aa-bb-01","tracestate":"k=v","type":"com.dapr.event.sent"}`},
		{"ttl adds expiration here too",
			`{"id":"u3"}`,
			time.Hour,
			`{"expiration":"2024-05-06T06:08:09Z","id":"u3","pubsubname":"ps","source":"Dapr","specversion":"1.0","time":"2024-05-06T07:08:09+02:00","topic":"orders","traceid":"00-aa-bb-01","traceparent":"00-aa-bb-01","tracestate":"k=v","type":"com.dapr.event.sent"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewEnvelope(EnvelopeRequest{Source: "app1", Topic: "orders", PubSub: "ps", ContentType: "application/cloudevents+json; charset=utf-8",
				Data: []byte(tt.body), TraceParent: "00-aa-bb-01", TraceState: "k=v", TTL: tt.ttl, Now: now,
				Metadata: map[string]string{"cloudevent.id": "ignored for user events"}})
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("envelope =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestNewEnvelopeInvalidCloudEvent(t *testing.T) {
	for _, body := range []string{``, `{bad`, `[1,2]`, `"str"`, `null`, `{"id":"a"} {"id":"b"}`, `{"id":"a"}}`} {
		_, err := NewEnvelope(EnvelopeRequest{ContentType: ContentTypeCloudEvent, Data: []byte(body)})
		if !errors.Is(err, ErrInvalidCloudEvent) {
			t.Errorf("body %q: err = %v, want ErrInvalidCloudEvent", body, err)
		}
	}
}

func TestParseEnvelope(t *testing.T) {
	ce, err := ParseEnvelope([]byte(" {\"id\":\"a\",\"n\":12345678901234567890} \n"))
	if err != nil {
		t.Fatal(err)
	}
	if ce["id"] != "a" || ce["n"] != json.Number("12345678901234567890") {
		t.Fatalf("ce = %v", ce)
	}
}

func TestExpired(t *testing.T) {
	tests := []struct {
		name string
		ce   map[string]any
		want bool
	}{
		{"no expiration", map[string]any{}, false},
		{"past", map[string]any{CEExpiration: "2024-05-06T05:08:08Z"}, true},
		{"exactly now", map[string]any{CEExpiration: "2024-05-06T05:08:09Z"}, true},
		{"future", map[string]any{CEExpiration: "2024-05-06T05:08:10Z"}, false},
		{"offset honoured", map[string]any{CEExpiration: "2024-05-06T07:08:10+02:00"}, false},
		{"unparsable", map[string]any{CEExpiration: "tomorrow"}, false},
		{"not a string", map[string]any{CEExpiration: json.Number("1")}, false},
	}
	// now is 05:08:09.123 UTC, so "exactly now" at whole seconds is past.
	for _, tt := range tests {
		if got := Expired(tt.ce, now); got != tt.want {
			t.Errorf("%s: Expired = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestContentTypes(t *testing.T) {
	tests := []struct {
		ct                       string
		json, ce, binary, isText bool
	}{
		{"application/json", true, false, false, false},
		{"APPLICATION/JSON;charset=utf-8", true, false, false, false},
		{"application/json-patch+json", false, false, false, false},
		{"application/cloudevents+json", false, true, false, false},
		{"application/octet-stream", false, false, true, false},
		{"application/cloudevents+protobuf", false, false, true, false},
		{"text/plain", false, false, false, true},
		{"Text/HTML; charset=utf-8", false, false, false, true},
		{"application/xml", false, false, false, true},
		{"", false, false, false, false},
	}
	for _, tt := range tests {
		if IsJSONContentType(tt.ct) != tt.json || IsCloudEventContentType(tt.ct) != tt.ce ||
			IsBinaryContentType(tt.ct) != tt.binary || IsStringContentType(tt.ct) != tt.isText {
			t.Errorf("%q: json=%v ce=%v binary=%v text=%v", tt.ct, IsJSONContentType(tt.ct), IsCloudEventContentType(tt.ct),
				IsBinaryContentType(tt.ct), IsStringContentType(tt.ct))
		}
	}
}

func mustParse(t *testing.T, b []byte) map[string]any {
	t.Helper()
	ce, err := ParseEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	return ce
}
