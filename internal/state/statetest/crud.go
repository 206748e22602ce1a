package statetest

import (
	"testing"
)

func (h *harness) testCRUD(t *testing.T) {
	t.Run("set-get-delete", func(t *testing.T) {
		k := h.key(t, "crud")
		h.mustSet(t, k, []byte(`{"v":1}`))
		h.expectValue(t, k, []byte(`{"v":1}`), false)
		h.mustSet(t, k, []byte(`{"v":2}`))
		h.expectValue(t, k, []byte(`{"v":2}`), false)
		if err := h.del(t, k, nil); err != nil {
			t.Fatalf("Delete(%q): %v", k, err)
		}
		h.expectMissing(t, k)
	})
	t.Run("get-missing", func(t *testing.T) {
		h.expectMissing(t, h.key(t, "never-set"))
	})
	t.Run("delete-missing", func(t *testing.T) {
		k := h.key(t, "never-set")
		if err := h.del(t, k, nil); err != nil {
			t.Errorf("Delete(%q) of a missing key without etag: %v, want nil", k, err)
		}
	})
	t.Run("binary-values", h.testBinaryValues)
	t.Run("json-values", h.testJSONValues)
}

func (h *harness) testBinaryValues(t *testing.T) {
	cases := []struct {
		name string
		val  []byte
	}{
		{"non-utf8", []byte{0x00, 0xff, 0xfe, 0x80, 'a', 0xc3, 0x28, 0x00}},
		{"plain-text", []byte("plain text, not JSON")},
		{"json-looking", []byte(`{"looks":"like json"}`)},
		{"all-bytes", allBytes()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := h.key(t, "bin-"+c.name)
			h.mustSet(t, k, c.val, binary())
			h.expectValue(t, k, c.val, true)
		})
	}
}

func (h *harness) testJSONValues(t *testing.T) {
	cases := []struct{ name, val string }{
		{"object", `{"b":1,"a":[1,2]}`},
		{"string", `"str"`},
		{"number", `42`},
		{"bool", `true`},
		{"null", `null`},
		{"unicode-string", `"ключ 🔑 \u00e9"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := h.key(t, "json-"+c.name)
			h.mustSet(t, k, []byte(c.val))
			h.expectValue(t, k, []byte(c.val), false)
		})
	}
}

// allBytes returns every byte value 0..255 once.
func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}
