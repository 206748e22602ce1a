package nameresolution

import (
	"context"
	"strings"
	"testing"
)

type fakeResolver struct{}

func (fakeResolver) Init(context.Context, Metadata) error { return nil }
func (fakeResolver) Resolve(_ context.Context, r Request) (string, error) {
	return r.ID + ":1", nil
}
func (fakeResolver) Close() error { return nil }

// Registered once per test binary: -count=N reruns tests, not init.
func init() {
	Registry.Register("fake-for-test", func() Resolver { return fakeResolver{} })
}

func TestCreate(t *testing.T) {
	tests := []struct {
		name, version string
		wantErr       string
	}{
		{"fake-for-test", "", ""},
		{"fake-for-test", "v1", ""},
		{"fake-for-test", "v2", "no version"},
		{"nope", "", "unknown nameresolution component type"},
	}
	for _, tt := range tests {
		r, err := Create(tt.name, tt.version)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Create(%q,%q) error = %v, want %q", tt.name, tt.version, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Create(%q,%q): %v", tt.name, tt.version, err)
		}
		if got, _ := r.Resolve(context.Background(), Request{ID: "a"}); got != "a:1" {
			t.Errorf("created resolver resolved %q", got)
		}
	}
}

func TestDefaultName(t *testing.T) {
	for mode, want := range map[string]string{"": "mdns", "standalone": "mdns", "kubernetes": "kubernetes"} {
		if got := DefaultName(mode); got != want {
			t.Errorf("DefaultName(%q) = %q, want %q", mode, got, want)
		}
	}
}
