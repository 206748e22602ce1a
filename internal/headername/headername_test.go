package headername

import (
	"net/textproto"
	"strings"
	"testing"
)

func TestConversions(t *testing.T) {
	tests := []struct{ in, lower, canonical string }{
		{"Content-Type", "content-type", "Content-Type"},
		{"content-type", "content-type", "Content-Type"},
		{"X-Forwarded-For", "x-forwarded-for", "X-Forwarded-For"},
		{"Dapr-Api-Token", "dapr-api-token", "Dapr-Api-Token"},
		{"X-Custom-Thing", "x-custom-thing", "X-Custom-Thing"},
		{"x-custom-thing", "x-custom-thing", "X-Custom-Thing"},
		{"", "", ""},
	}
	for _, tc := range tests {
		if got := Lower(tc.in); got != tc.lower {
			t.Errorf("Lower(%q) = %q, want %q", tc.in, got, tc.lower)
		}
		if got := Canonical(tc.in); got != tc.canonical {
			t.Errorf("Canonical(%q) = %q, want %q", tc.in, got, tc.canonical)
		}
	}
}

// TestTableAgreesWithNetHTTP: every table entry is what net/http itself
// would produce, so the shortcut never changes a name.
func TestTableAgreesWithNetHTTP(t *testing.T) {
	for _, c := range common {
		if textproto.CanonicalMIMEHeaderKey(c) != c {
			t.Errorf("%q is not canonical (net/http says %q)", c, textproto.CanonicalMIMEHeaderKey(c))
		}
		l := strings.ToLower(c)
		if Lower(c) != l || Canonical(l) != c {
			t.Errorf("%q: Lower %q, Canonical(%q) %q", c, Lower(c), l, Canonical(l))
		}
	}
}

func TestCommonNamesDoNotAllocate(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		_ = Lower("Content-Type")
		_ = Canonical("traceparent")
	})
	if allocs != 0 {
		t.Errorf("%v allocations per conversion of common names", allocs)
	}
}
