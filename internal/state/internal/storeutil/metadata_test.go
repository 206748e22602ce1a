package storeutil

import (
	"testing"
	"time"
)

func TestProp(t *testing.T) {
	props := map[string]string{"Timeout": "5", "timeout": "6", "URL": "u", "empty": ""}
	tests := []struct {
		names []string
		want  string
		ok    bool
	}{
		{[]string{"timeout"}, "6", true}, // the exact spelling wins
		{[]string{"url"}, "u", true},     // any case matches
		{[]string{"nope", "URL"}, "u", true},
		{[]string{"empty", "URL"}, "", true}, // present though blank
		{[]string{"nope"}, "", false},
	}
	for _, tc := range tests {
		got, ok := Prop(props, tc.names...)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Prop(%v) = %q, %v; want %q, %v", tc.names, got, ok, tc.want, tc.ok)
		}
	}
}

func TestDurationProp(t *testing.T) {
	tests := []struct {
		value   string
		want    time.Duration
		wantErr bool
	}{
		{"", time.Minute, false}, // default
		{"  ", time.Minute, false},
		{"30", 30 * time.Second, false},
		{"-1", -time.Second, false},
		{"1h30m", 90 * time.Minute, false},
		{" 250ms ", 250 * time.Millisecond, false},
		{"soon", 0, true},
	}
	for _, tc := range tests {
		got, err := DurationProp(map[string]string{"interval": tc.value}, time.Minute, "interval")
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("DurationProp(%q) = %v, %v; want %v, error %v", tc.value, got, err, tc.want, tc.wantErr)
		}
	}
	if got, err := DurationProp(map[string]string{}, time.Minute, "interval"); got != time.Minute || err != nil {
		t.Errorf("DurationProp(absent) = %v, %v; want the default", got, err)
	}
}

func TestValidIdentifier(t *testing.T) {
	tests := map[string]bool{"state": true, "My_Table9": true, "": false, "a-b": false, "a;b": false, "a b": false, "é": false}
	for in, want := range tests {
		if got := ValidIdentifier(in); got != want {
			t.Errorf("ValidIdentifier(%q) = %v, want %v", in, got, want)
		}
	}
}
