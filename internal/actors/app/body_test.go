package app

import (
	"encoding/json"
	"testing"

	"github.com/outrigger/outrigger/internal/actors"
)

// timerBody and reminderBody are the bodies json.Marshal writes: the
// reference the hand-written encoders must match.
type timerBody struct {
	Callback string          `json:"callback"`
	Data     json.RawMessage `json:"data,omitempty"`
	DueTime  string          `json:"dueTime"`
	Period   string          `json:"period"`
}

type reminderBody struct {
	Data    json.RawMessage `json:"data,omitempty"`
	DueTime string          `json:"dueTime"`
	Period  string          `json:"period"`
}

// bodyCases are timer and reminder fields covering the fast path and every
// reason to fall back to encoding/json.
var bodyCases = []struct {
	name                      string
	callback, dueTime, period string
	data                      []byte
}{
	{name: "empty"},
	{name: "plain strings", callback: "onTick", dueTime: "0s", period: "250ms"},
	{name: "ISO period", dueTime: "PT1S", period: "R3/PT1S"},
	{name: "RFC3339 due time", dueTime: "2026-03-01T13:00:00+01:00"},
	{name: "compact object data", dueTime: "1s", data: []byte(`{"n":1,"s":"x"}`)},
	{name: "string data", data: []byte(`"hello"`)},
	{name: "null data", data: []byte(`null`)},
	{name: "empty data is omitted", data: []byte{}},
	{name: "data with spaces", data: []byte(`{"n": 1}`)},
	{name: "data with a newline", data: []byte("[1,\n2]")},
	{name: "data with HTML characters", data: []byte(`"<a>&"`)},
	{name: "data with U+2028", data: []byte("\"a\u2028b\"")},
	{name: "data with other UTF-8", data: []byte(`"héllo"`)},
	{name: "quote in a string", callback: `say "hi"`},
	{name: "backslash in a string", dueTime: `a\b`},
	{name: "HTML in a string", period: "<5s>&"},
	{name: "control character in a string", callback: "a\tb"},
	{name: "non-ASCII string", callback: "déclencher"},
	{name: "invalid UTF-8 string", callback: "a\xffb"},
}

// TestFiringBodiesMatchEncodingJSON checks the hand-written encoders write
// exactly what json.Marshal writes for the same body.
func TestFiringBodiesMatchEncodingJSON(t *testing.T) {
	for _, tc := range bodyCases {
		t.Run(tc.name, func(t *testing.T) {
			want, wantErr := json.Marshal(timerBody{Callback: tc.callback, Data: tc.data, DueTime: tc.dueTime, Period: tc.period})
			got, err := timerJSON(actors.TimerCall{Callback: tc.callback, Data: tc.data, DueTime: tc.dueTime, Period: tc.period})
			if string(got) != string(want) || (err == nil) != (wantErr == nil) {
				t.Errorf("timer body = %s, %v; want %s, %v", got, err, want, wantErr)
			}
			want, wantErr = json.Marshal(reminderBody{Data: tc.data, DueTime: tc.dueTime, Period: tc.period})
			got, err = reminderJSON(actors.ReminderCall{Data: tc.data, DueTime: tc.dueTime, Period: tc.period})
			if string(got) != string(want) || (err == nil) != (wantErr == nil) {
				t.Errorf("reminder body = %s, %v; want %s, %v", got, err, want, wantErr)
			}
		})
	}
}

// TestFiringBodiesRejectInvalidData checks data that is not JSON fails as
// it does with encoding/json.
func TestFiringBodiesRejectInvalidData(t *testing.T) {
	for _, data := range []string{"not json", "{", `{"a":1}x`} {
		if b, err := reminderJSON(actors.ReminderCall{Data: []byte(data)}); err == nil {
			t.Errorf("reminder body with data %q = %s, want an error", data, b)
		}
		if b, err := timerJSON(actors.TimerCall{Data: []byte(data)}); err == nil {
			t.Errorf("timer body with data %q = %s, want an error", data, b)
		}
	}
}
