package pubsub

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"

	"github.com/outrigger/outrigger/internal/jsonwire"
)

// This file builds and reads envelope JSON directly, without going
// through map[string]any and reflection: publishing and delivering are the
// hot path of the sidecar, and the generic round trip cost more CPU than
// the rest of the envelope work together. Each fast path accepts only
// input it is sure to handle exactly as encoding/json would and leaves
// the rest to encoding/json, so the bytes produced never differ.

// maxCanonicalDepth bounds the nesting the fast path follows; deeper
// values take encoding/json's path (which has its own limit).
const maxCanonicalDepth = 1000

// appendCanonicalJSON appends the JSON value that data holds, re-encoded
// as decoding it (numbers as json.Number) and marshalling the result
// would: compact, object keys sorted and unique (the last one wins),
// strings re-escaped, numbers verbatim. ok is false, and nothing is
// appended, when the fast path cannot vouch for the result: invalid JSON,
// anything but whitespace after the value, very deep nesting.
func appendCanonicalJSON(dst, data []byte) ([]byte, bool) {
	c := canonicalizer{data: data}
	c.skipSpace()
	out, ok := c.value(dst)
	if !ok {
		return dst, false
	}
	c.skipSpace()
	if c.pos != len(c.data) {
		return dst, false
	}
	return out, true
}

// canonicalizer reads one JSON value from data.
type canonicalizer struct {
	data  []byte
	pos   int
	depth int
}

func (c *canonicalizer) skipSpace() { c.pos = skipSpace(c.data, c.pos) }

func (c *canonicalizer) value(dst []byte) ([]byte, bool) {
	if c.pos >= len(c.data) {
		return dst, false
	}
	switch b := c.data[c.pos]; {
	case b == '{':
		return c.object(dst)
	case b == '[':
		return c.array(dst)
	case b == '"':
		raw, _, ok := c.str()
		if !ok {
			return dst, false
		}
		return appendStringToken(dst, raw)
	case b == '-' || (b >= '0' && b <= '9'):
		start := c.pos
		if !c.number() {
			return dst, false
		}
		return append(dst, c.data[start:c.pos]...), true
	}
	for _, lit := range []string{"true", "false", "null"} {
		if bytes.HasPrefix(c.data[c.pos:], []byte(lit)) {
			c.pos += len(lit)
			return append(dst, lit...), true
		}
	}
	return dst, false
}

// member is one object member re-encoded at out[start:end] as
// `"key":value`.
type member struct {
	key        string
	start, end int
}

func (c *canonicalizer) object(dst []byte) ([]byte, bool) {
	if c.depth++; c.depth > maxCanonicalDepth {
		return dst, false
	}
	defer func() { c.depth-- }()
	c.pos++ // '{'
	base := len(dst)
	dst = append(dst, '{')
	var members []member
	sorted := true
	for first := true; ; first = false {
		c.skipSpace()
		if c.pos >= len(c.data) {
			return dst, false
		}
		if c.data[c.pos] == '}' && first {
			break
		}
		if !first {
			dst = append(dst, ',')
		}
		raw, key, ok := c.str()
		if !ok {
			return dst, false
		}
		start := len(dst)
		if dst, ok = appendStringToken(dst, raw); !ok {
			return dst, false
		}
		c.skipSpace()
		if c.pos >= len(c.data) || c.data[c.pos] != ':' {
			return dst, false
		}
		c.pos++
		dst = append(dst, ':')
		c.skipSpace()
		if dst, ok = c.value(dst); !ok {
			return dst, false
		}
		if n := len(members); n > 0 && members[n-1].key >= key {
			sorted = false
		}
		members = append(members, member{key: key, start: start - base, end: len(dst) - base})
		c.skipSpace()
		if c.pos >= len(c.data) {
			return dst, false
		}
		if c.data[c.pos] == '}' {
			break
		}
		if c.data[c.pos] != ',' {
			return dst, false
		}
		c.pos++
	}
	c.pos++ // '}'
	if !sorted {
		dst = reorder(dst, base, members)
	}
	return append(dst, '}'), true
}

// reorder rewrites the members written after dst[base] ('{') in key
// order, keeping only the last member of each key, as a Go map would.
func reorder(dst []byte, base int, members []member) []byte {
	written := bytes.Clone(dst[base:])
	// Stable: among equal keys the last written is the last in order.
	slices.SortStableFunc(members, func(a, b member) int { return strings.Compare(a.key, b.key) })
	dst = append(dst[:base], '{')
	for i, m := range members {
		if i+1 < len(members) && members[i+1].key == m.key {
			continue
		}
		if len(dst) > base+1 {
			dst = append(dst, ',')
		}
		dst = append(dst, written[m.start:m.end]...)
	}
	return dst
}

func (c *canonicalizer) array(dst []byte) ([]byte, bool) {
	if c.depth++; c.depth > maxCanonicalDepth {
		return dst, false
	}
	defer func() { c.depth-- }()
	c.pos++ // '['
	dst = append(dst, '[')
	for first := true; ; first = false {
		c.skipSpace()
		if c.pos >= len(c.data) {
			return dst, false
		}
		if c.data[c.pos] == ']' && first {
			break
		}
		if !first {
			dst = append(dst, ',')
		}
		var ok bool
		if dst, ok = c.value(dst); !ok {
			return dst, false
		}
		c.skipSpace()
		if c.pos >= len(c.data) {
			return dst, false
		}
		if c.data[c.pos] == ']' {
			break
		}
		if c.data[c.pos] != ',' {
			return dst, false
		}
		c.pos++
	}
	c.pos++ // ']'
	return append(dst, ']'), true
}

// str reads a string token at c.pos: its raw bytes (quotes included) and
// its decoded value. A control character inside, which JSON forbids, is
// an error.
func (c *canonicalizer) str() (raw []byte, val string, ok bool) {
	if c.pos >= len(c.data) || c.data[c.pos] != '"' {
		return nil, "", false
	}
	start := c.pos
	escaped := false
	for i := start + 1; i < len(c.data); i++ {
		switch b := c.data[i]; {
		case b == '\\':
			escaped = true
			i++ // the escaped byte; its validity is checked when decoding
		case b == '"':
			c.pos = i + 1
			raw = c.data[start:c.pos]
			if !escaped && ascii(raw) {
				return raw, string(raw[1 : len(raw)-1]), true
			}
			if err := json.Unmarshal(raw, &val); err != nil {
				return nil, "", false
			}
			return raw, val, true
		case b < 0x20:
			return nil, "", false
		}
	}
	return nil, "", false
}

// appendStringToken appends a string token as encoding/json re-encodes
// it after decoding: unchanged when it is plain, else decoded and
// marshalled again.
func appendStringToken(dst, raw []byte) ([]byte, bool) {
	if jsonwire.Plain(raw[1 : len(raw)-1]) {
		return append(dst, raw...), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return dst, false
	}
	return jsonwire.AppendString(dst, s), true
}

// number reads a JSON number at c.pos (RFC 8259 grammar).
func (c *canonicalizer) number() bool {
	d := c.data
	i := c.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		i = digits(d, i)
	default:
		return false
	}
	if i < len(d) && d[i] == '.' {
		j := digits(d, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := digits(d, i)
		if j == i {
			return false
		}
		i = j
	}
	c.pos = i
	return true
}

// ascii reports whether b is all ASCII: decoding such a string without
// escapes changes nothing (other bytes may be invalid UTF-8, which
// decoding replaces).
func ascii(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

func digits(d []byte, i int) int {
	for i < len(d) && d[i] >= '0' && d[i] <= '9' {
		i++
	}
	return i
}

// maxJSONDepth is encoding/json's nesting limit: deeper input is invalid.
const maxJSONDepth = 10000

// scanHead checks that data is exactly one JSON object (surrounding
// whitespace allowed), as valid as encoding/json requires, and reads its
// head attributes on the way, in one pass. Like a map decode, the last of
// duplicate keys wins.
func scanHead(data []byte) (EnvelopeHead, bool) {
	var h EnvelopeHead
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return h, false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return h, skipSpace(data, i+1) == len(data)
	}
	for {
		keyStart := i
		i = validString(data, i)
		if i < 0 {
			return h, false
		}
		key := data[keyStart:i]
		i = skipSpace(data, i)
		if i >= len(data) || data[i] != ':' {
			return h, false
		}
		valStart := skipSpace(data, i+1)
		if i = validValue(data, valStart, 2); i < 0 {
			return h, false
		}
		if field := h.field(key); field != nil {
			*field = stringValue(data[valStart:i])
		}
		i = skipSpace(data, i)
		if i >= len(data) {
			return h, false
		}
		switch data[i] {
		case '}':
			return h, skipSpace(data, i+1) == len(data)
		case ',':
			i = skipSpace(data, i+1)
		default:
			return h, false
		}
	}
}

// validValue returns the index after the JSON value at data[i], or -1 if
// there is none there; depth is the value's nesting level.
func validValue(data []byte, i, depth int) int {
	if i >= len(data) {
		return -1
	}
	switch b := data[i]; {
	case b == '"':
		return validString(data, i)
	case b == '{' || b == '[':
		return validContainer(data, i, depth)
	case b == '-' || (b >= '0' && b <= '9'):
		c := canonicalizer{data: data, pos: i}
		if !c.number() {
			return -1
		}
		return c.pos
	}
	for _, lit := range []string{"true", "false", "null"} {
		if bytes.HasPrefix(data[i:], []byte(lit)) {
			return i + len(lit)
		}
	}
	return -1
}

// validContainer returns the index after the object or array at data[i],
// or -1.
func validContainer(data []byte, i, depth int) int {
	if depth > maxJSONDepth {
		return -1
	}
	end := byte(']')
	if data[i] == '{' {
		end = '}'
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == end {
		return i + 1
	}
	for {
		if end == '}' {
			if i = validString(data, i); i < 0 {
				return -1
			}
			i = skipSpace(data, i)
			if i >= len(data) || data[i] != ':' {
				return -1
			}
			i = skipSpace(data, i+1)
		}
		if i = validValue(data, i, depth+1); i < 0 {
			return -1
		}
		i = skipSpace(data, i)
		switch {
		case i >= len(data):
			return -1
		case data[i] == end:
			return i + 1
		case data[i] != ',':
			return -1
		}
		i = skipSpace(data, i+1)
	}
}

// validString returns the index after the string token at data[i], or -1:
// no control characters inside, only JSON's escapes. Like encoding/json,
// it does not check UTF-8.
func validString(data []byte, i int) int {
	if i >= len(data) || data[i] != '"' {
		return -1
	}
	for i++; i < len(data); i++ {
		switch b := data[i]; {
		case b == '"':
			return i + 1
		case b < 0x20:
			return -1
		case b == '\\':
			i++
			if i >= len(data) {
				return -1
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(data) || !isHex(data[i+1]) || !isHex(data[i+2]) || !isHex(data[i+3]) || !isHex(data[i+4]) {
					return -1
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}

func isHex(b byte) bool {
	return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F')
}

// field returns the head field for a raw key token, nil for other keys.
func (h *EnvelopeHead) field(raw []byte) *string {
	key, unescaped := raw[1:len(raw)-1], ""
	if bytes.IndexByte(key, '\\') >= 0 {
		key, unescaped = nil, stringValue(raw)
	}
	// string(key) in a comparison does not allocate.
	switch {
	case string(key) == CEID || unescaped == CEID:
		return &h.ID
	case string(key) == CETraceParent || unescaped == CETraceParent:
		return &h.TraceParent
	case string(key) == CETraceState || unescaped == CETraceState:
		return &h.TraceState
	case string(key) == CEExpiration || unescaped == CEExpiration:
		return &h.Expiration
	}
	return nil
}

// stringValue decodes a valid JSON value if it is a string, else "".
func stringValue(raw []byte) string {
	if len(raw) < 2 || raw[0] != '"' {
		return ""
	}
	if body := raw[1 : len(raw)-1]; ascii(body) && bytes.IndexByte(body, '\\') < 0 {
		return string(body)
	}
	var s string
	_ = json.Unmarshal(raw, &s) // raw is a valid string token
	return s
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}
