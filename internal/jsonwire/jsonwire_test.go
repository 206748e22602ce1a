package jsonwire

import (
	"encoding/json"
	"testing"
)

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote`, `back\slash`, "<a>&", "tab\t", "déjà", "bad\xffutf8", "\u2028"} {
		want, _ := json.Marshal(s)
		if got := AppendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("AppendString(%q) = %s, want x%s", s, got, want)
		}
		if got := AppendMember(nil, '{', "k", s); string(got) != `{"k":`+string(want) {
			t.Errorf("AppendMember(%q) = %s", s, got)
		}
	}
}

func TestAppendRawMatchesEncodingJSON(t *testing.T) {
	for _, raw := range []string{`{"a":1}`, `{"a": 1}`, "[1,\n2]", `"<b>"`, "\"a\u2028b\"", `"es\"c"`, `null`, "not json", `{`} {
		want, wantErr := json.Marshal(json.RawMessage(raw))
		got, err := AppendRaw(nil, []byte(raw))
		if string(got) != string(want) || (err == nil) != (wantErr == nil) {
			t.Errorf("AppendRaw(%q) = %s, %v; want %s, %v", raw, got, err, want, wantErr)
		}
	}
	if got, err := AppendRaw(nil, nil); string(got) != "null" || err != nil {
		t.Errorf("AppendRaw(nil) = %s, %v", got, err)
	}
}
