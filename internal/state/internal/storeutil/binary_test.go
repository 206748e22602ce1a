package storeutil

import (
	"bytes"
	"testing"
)

func TestBinaryJSON(t *testing.T) {
	for _, v := range [][]byte{{0, 1, 2, 0xff}, {}, []byte("text")} {
		enc := EncodeBinaryJSON(v)
		got, err := DecodeBinaryJSON([]byte(enc))
		if err != nil || !bytes.Equal(got, v) {
			t.Errorf("DecodeBinaryJSON(EncodeBinaryJSON(%q) = %s) = %q, %v", v, enc, got, err)
		}
	}
	// A JSON string with escapes, as another writer may leave it.
	if got, err := DecodeBinaryJSON([]byte(`"AAEC\/w=="`)); err != nil || !bytes.Equal(got, []byte{0, 1, 2, 0xff}) {
		t.Errorf("DecodeBinaryJSON(escaped) = %q, %v", got, err)
	}
	for _, bad := range []string{`AAEC`, `"AAEC\"`, `"not base64!"`, `3`} {
		if got, err := DecodeBinaryJSON([]byte(bad)); err == nil {
			t.Errorf("DecodeBinaryJSON(%s) = %q, want an error", bad, got)
		}
	}
}
