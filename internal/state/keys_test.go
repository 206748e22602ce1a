package state

import "testing"

func TestKeyScheme(t *testing.T) {
	tests := []struct {
		strategy, namespace, want string
	}{
		{"", "", "app||k"},
		{"appid", "", "app||k"},
		{"AppID", "", "app||k"},
		{"name", "", "store||k"},
		{"namespace", "", "app||k"},
		{"namespace", "prod", "prod.app||k"},
		{"none", "", "k"},
		{"custom", "", "custom||k"},
	}
	for _, tt := range tests {
		s, err := NewKeyScheme(tt.strategy, "app", "store", tt.namespace)
		if err != nil {
			t.Fatalf("%q: %v", tt.strategy, err)
		}
		if got := s.Stored("k"); got != tt.want {
			t.Errorf("%q/%q: Stored = %q, want %q", tt.strategy, tt.namespace, got, tt.want)
		}
		if got := s.User(s.Stored("k")); got != "k" {
			t.Errorf("%q: User(Stored(k)) = %q", tt.strategy, got)
		}
	}
	if _, err := NewKeyScheme("a||b", "app", "store", ""); err == nil {
		t.Error("keyPrefix with || accepted")
	}
	if err := ValidateKey("a||b"); err == nil {
		t.Error("key with || accepted")
	}
}

func TestTTLFromMetadata(t *testing.T) {
	tests := []struct {
		v       string
		ok      bool
		wantErr bool
	}{
		{"", false, false}, {"10", true, false}, {"-1", false, false}, {"abc", false, true}, {"18446744074", false, true},
	}
	for _, tt := range tests {
		_, ok, err := TTLFromMetadata(map[string]string{MetaTTLInSeconds: tt.v})
		if ok != tt.ok || (err != nil) != tt.wantErr {
			t.Errorf("%q: ok=%v err=%v", tt.v, ok, err)
		}
	}
}
