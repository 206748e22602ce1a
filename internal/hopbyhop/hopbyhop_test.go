package hopbyhop

import (
	"maps"
	"slices"
	"testing"
)

func TestDropped(t *testing.T) {
	nominated := Nominated([]string{"close, X-Secret", " ,keep-alive", ""})
	if got := slices.Sorted(maps.Keys(nominated)); !slices.Equal(got, []string{"close", "keep-alive", "x-secret"}) {
		t.Fatalf("nominated = %v", got)
	}
	tests := []struct {
		name string
		want bool
	}{
		{"connection", true},
		{"keep-alive", true},
		{"proxy-authenticate", true},
		{"proxy-authorization", true},
		{"proxy-connection", true},
		{"te", true},
		{"trailer", true},
		{"transfer-encoding", true},
		{"upgrade", true},
		{"x-secret", true},      // nominated
		{"proxy-status", false}, // end to end (RFC 9209)
		{"content-type", false},
		{"traceparent", false},
		{"x-custom", false},
	}
	for _, tt := range tests {
		if got := Dropped(tt.name, nominated); got != tt.want {
			t.Errorf("Dropped(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
	if Nominated(nil) != nil || Nominated([]string{" , "}) != nil {
		t.Error("no names must give a nil set")
	}
	if Dropped("x-secret", nil) {
		t.Error("a name dropped without being nominated")
	}
}
