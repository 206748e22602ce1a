// Package jsonwire appends JSON exactly as encoding/json would write it,
// without reflection, for the hot paths that build small JSON documents
// per message (CloudEvents, bulk deliveries, actor timer and reminder
// bodies). Each helper copies what it can vouch for and hands anything
// else to encoding/json, so the bytes never differ from json.Marshal's.
package jsonwire

import "encoding/json"

// AppendString appends s as json.Marshal writes a string (HTML characters
// escaped). Plain printable ASCII is copied; anything else goes through
// encoding/json.
func AppendString[T string | []byte](dst []byte, s T) []byte {
	if Plain(s) {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	b, _ := json.Marshal(string(s)) // a string always marshals
	return append(dst, b...)
}

// Plain reports whether encoding/json writes s unchanged between quotes:
// printable ASCII without '"', '\\' and the HTML-escaped <, >, &.
func Plain[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// AppendMember appends sep, then "name":value with value as a JSON
// string; name must need no escaping.
func AppendMember(dst []byte, sep byte, name, value string) []byte {
	dst = append(dst, sep, '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	return AppendString(dst, value)
}

// AppendRaw appends raw JSON as json.Marshal writes a json.RawMessage:
// nil as null; valid JSON that is already compact and escaped is copied;
// anything else goes through encoding/json, which compacts, escapes or
// refuses it.
func AppendRaw(dst, raw []byte) ([]byte, error) {
	if raw == nil {
		return append(dst, "null"...), nil
	}
	if json.Valid(raw) && CompactEscaped(raw) {
		return append(dst, raw...), nil
	}
	out, err := json.Marshal(json.RawMessage(raw))
	if err != nil {
		return nil, err
	}
	return append(dst, out...), nil
}

// CompactEscaped reports whether valid JSON raw has no whitespace outside
// strings and none of the characters json.Marshal escapes in a
// RawMessage (<, >, &, U+2028, U+2029).
func CompactEscaped(raw []byte) bool {
	inString := false
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '<' || c == '>' || c == '&':
			return false
		case c == 0xE2 && i+2 < len(raw) && raw[i+1] == 0x80 && (raw[i+2] == 0xA8 || raw[i+2] == 0xA9):
			return false
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return false
		}
	}
	return true
}
