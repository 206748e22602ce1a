package static

import (
	"context"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/nameresolution"
)

func initResolver(t *testing.T, cfg map[string]any) (nameresolution.Resolver, error) {
	t.Helper()
	r, err := nameresolution.Create("static", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, r.Init(context.Background(), nameresolution.Metadata{Configuration: cfg})
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name string
		cfg  map[string]any
		id   string
		want []string // successive results
	}{
		{"map form", map[string]any{"apps": map[string]any{"orders": []any{"10.0.0.5:50002"}}},
			"orders", []string{"10.0.0.5:50002", "10.0.0.5:50002"}},
		{"round robin", map[string]any{"apps": map[string]any{"orders": []any{"a:1", "b:2", "[fd00::1]:3"}}},
			"orders", []string{"a:1", "b:2", "[fd00::1]:3", "a:1"}},
		{"list form", map[string]any{"Apps": []any{
			map[string]any{"appID": "x", "addresses": []any{"h1:1"}},
			map[string]any{"appId": "y", "Addresses": []any{"h2:2", "h3:3"}},
		}}, "y", []string{"h2:2", "h3:3", "h2:2"}},
		{"comma-separated string", map[string]any{"apps": map[string]any{"z": "h1:1, h2:2"}},
			"z", []string{"h1:1", "h2:2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := initResolver(t, tt.cfg)
			if err != nil {
				t.Fatalf("Init: %v", err)
			}
			for i, want := range tt.want {
				got, err := r.Resolve(context.Background(), nameresolution.Request{ID: tt.id, Namespace: "ignored"})
				if err != nil || got != want {
					t.Fatalf("call %d: Resolve = %q, %v; want %q", i, got, err, want)
				}
			}
		})
	}
}

func TestResolveUnknown(t *testing.T) {
	r, err := initResolver(t, map[string]any{"apps": map[string]any{"b": []any{"h:1"}, "a": []any{"h:2"}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Resolve(context.Background(), nameresolution.Request{ID: "nope"})
	want := `app id "nope" is not listed in the static name resolution configuration (known: a, b)`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
}

func TestInitErrors(t *testing.T) {
	tests := []struct {
		name    string
		cfg     map[string]any
		wantErr string
	}{
		{"missing apps", map[string]any{}, "configuration.apps is required"},
		{"wrong type", map[string]any{"apps": "orders=h:1"}, "expected a map"},
		{"no port", map[string]any{"apps": map[string]any{"a": []any{"host"}}}, "want host:port"},
		{"bad port", map[string]any{"apps": map[string]any{"a": []any{"host:99999"}}}, "invalid port"},
		{"empty host", map[string]any{"apps": map[string]any{"a": []any{":80"}}}, "empty host"},
		{"no addresses", map[string]any{"apps": map[string]any{"a": []any{}}}, "no addresses"},
		{"non-string address", map[string]any{"apps": map[string]any{"a": []any{float64(1)}}}, "not a string"},
		{"empty map", map[string]any{"apps": map[string]any{}}, "no apps listed"},
		{"list item not a map", map[string]any{"apps": []any{"a"}}, "item 0"},
		{"list without id", map[string]any{"apps": []any{map[string]any{"addresses": []any{"h:1"}}}}, "empty app id"},
		{"duplicate id", map[string]any{"apps": []any{
			map[string]any{"appID": "a", "addresses": []any{"h:1"}},
			map[string]any{"appID": "a", "addresses": []any{"h:2"}},
		}}, "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := initResolver(t, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Init error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
