package registry

import (
	"strings"
	"testing"
)

func TestCreate(t *testing.T) {
	r := New[string]("state")
	r.Register("state.a", func() string { return "a1" })
	r.Register("state.b", func() string { return "b2" }, "v2")

	tests := []struct {
		typ, version string
		want         string
		wantErr      string
	}{
		{"state.a", "", "a1", ""},
		{"state.a", "v0", "a1", ""},
		{"STATE.A", "v1", "a1", ""},
		{"state.b", "v2", "b2", ""},
		{"state.b", "v1", "", `has no version "v1" (known versions: v2)`},
		{"state.c", "", "", "known types: state.a, state.b"},
	}
	for _, tt := range tests {
		got, err := r.Create(tt.typ, tt.version)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Create(%q,%q) error = %v, want containing %q", tt.typ, tt.version, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Create(%q,%q) = %q, %v; want %q", tt.typ, tt.version, got, err, tt.want)
		}
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	r := New[int]("state")
	r.Register("state.a", func() int { return 1 })
	defer func() {
		if recover() == nil {
			t.Fatal("expected panic on duplicate registration")
		}
	}()
	r.Register("state.a", func() int { return 2 }, "v1")
}
