package storeutil

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// EncodeBinaryJSON is Dapr's form for a binary value in a JSON column
// (MySQL, PostgreSQL v1): a JSON string holding its base64. Base64 needs no
// JSON escaping, so quoting it makes a JSON string.
func EncodeBinaryJSON(v []byte) string {
	return `"` + base64.StdEncoding.EncodeToString(v) + `"`
}

// DecodeBinaryJSON reverses EncodeBinaryJSON.
func DecodeBinaryJSON(v []byte) ([]byte, error) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' && bytes.IndexByte(v, '\\') < 0 {
		return DecodeBase64(v[1 : len(v)-1]) // the usual case: nothing escaped
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, fmt.Errorf("binary value is not a JSON string: %w", err)
	}
	return DecodeBase64([]byte(s))
}

// DecodeBase64 decodes a binary value stored as standard base64.
func DecodeBase64(b64 []byte) ([]byte, error) {
	out := make([]byte, base64.StdEncoding.DecodedLen(len(b64)))
	n, err := base64.StdEncoding.Decode(out, b64)
	if err != nil {
		return nil, fmt.Errorf("decode binary value: %w", err)
	}
	return out[:n], nil
}
