package kubernetes

import (
	"context"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/nameresolution"
)

func TestResolve(t *testing.T) {
	tests := []struct {
		name    string
		cfg     map[string]any
		req     nameresolution.Request
		want    string
		wantErr string
	}{
		{"default form", nil, nameresolution.Request{ID: "orders", Namespace: "shop", Port: 50002},
			"orders-dapr.shop.svc.cluster.local:50002", ""},
		{"default namespace", nil, nameresolution.Request{ID: "orders", Port: 50002},
			"orders-dapr.default.svc.cluster.local:50002", ""},
		{"cluster domain", map[string]any{"clusterDomain": "corp.internal."}, nameresolution.Request{ID: "a", Namespace: "n", Port: 1},
			"a-dapr.n.svc.corp.internal:1", ""},
		{"blank cluster domain", map[string]any{"clusterDomain": " "}, nameresolution.Request{ID: "a", Namespace: "n", Port: 1},
			"a-dapr.n.svc.cluster.local:1", ""},
		{"template", map[string]any{"template": "{{.ID}}-dapr.{{.Namespace}}.svc:{{.Port}}"},
			nameresolution.Request{ID: "a", Port: 7}, "a-dapr.default.svc:7", ""},
		{"template with fixed port", map[string]any{"Template": "{{.ID}}.mesh:443"},
			nameresolution.Request{ID: "a"}, "a.mesh:443", ""},
		{"no port", nil, nameresolution.Request{ID: "a"}, "", "no port"},
		{"no id", nil, nameresolution.Request{Port: 1}, "", "empty app id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := nameresolution.Create("kubernetes", "v1")
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Init(context.Background(), nameresolution.Metadata{Configuration: tt.cfg}); err != nil {
				t.Fatalf("Init: %v", err)
			}
			defer r.Close()
			got, err := r.Resolve(context.Background(), tt.req)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Resolve error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Resolve = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestInitRejectsBadTemplate(t *testing.T) {
	tests := []struct {
		name string
		cfg  map[string]any
	}{
		{"syntax", map[string]any{"template": "{{.ID"}},
		{"unknown field", map[string]any{"template": "{{.AppID}}:1"}},
		{"empty output", map[string]any{"template": "{{if false}}x{{end}}"}},
		{"not a string", map[string]any{"template": []any{"x"}}},
		{"bad cluster domain type", map[string]any{"clusterDomain": map[string]any{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Resolver{}
			if err := r.Init(context.Background(), nameresolution.Metadata{Configuration: tt.cfg}); err == nil {
				t.Fatal("Init succeeded, want error")
			}
		})
	}
}
