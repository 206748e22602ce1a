package mqtt

import "testing"

func TestMatches(t *testing.T) {
	for _, tc := range []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/+", "a/b", true},
		{"a/+", "a/b/c", false},
		{"a/+/c", "a/b/c", true},
		{"+/+", "a/b", true},
		{"+", "a", true},
		{"+", "a/b", false},
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"a/#", "ab", false},
		{"#", "a/b", true},
		{"#", "$SYS/x", false},
		{"+/x", "$SYS/x", false},
		{"$SYS/#", "$SYS/x", true},
		{"a//b", "a//b", true},
		{"a/+/b", "a//b", true},
	} {
		if got := matches(tc.filter, tc.topic); got != tc.want {
			t.Errorf("matches(%q, %q) = %v, want %v", tc.filter, tc.topic, got, tc.want)
		}
	}
}

func TestFilters(t *testing.T) {
	for _, tc := range []struct {
		filter, plain string
		valid         bool
	}{
		{"orders", "orders", true},
		{"$share/g1/orders/+", "orders/+", true},
		{"$share/g1/#", "#", true},
		{"a/#", "a/#", true},
		{"a/#/b", "a/#/b", false},
		{"a/b+", "a/b+", false},
		{"a#", "a#", false},
		{"", "", false},
	} {
		if got := plainFilter(tc.filter); got != tc.plain {
			t.Errorf("plainFilter(%q) = %q, want %q", tc.filter, got, tc.plain)
		}
		if err := validFilter(tc.filter); (err == nil) != tc.valid {
			t.Errorf("validFilter(%q) = %v, want valid=%v", tc.filter, err, tc.valid)
		}
	}
}
