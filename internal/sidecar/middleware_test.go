package sidecar

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/resources"

	_ "github.com/outrigger/outrigger/internal/middleware/uppercase"
)

const upperComponent = `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: upper
spec:
  type: middleware.http.uppercase
  version: v1
  metadata:
  - name: direction
    value: both
`

func TestBuildPipelines(t *testing.T) {
	tests := []struct {
		name     string
		api, app []resources.HandlerSpec
		wantErr  string
		wantAPI  int
		wantApp  int
	}{
		{"both pipelines", []resources.HandlerSpec{{Name: "upper", Type: "middleware.http.uppercase"}},
			[]resources.HandlerSpec{{Name: "upper", Type: "middleware.http.uppercase", Version: "v1"}}, "", 1, 1},
		{"none", nil, nil, "", 0, 0},
		{"missing in httpPipeline", []resources.HandlerSpec{{Name: "ghost", Type: "middleware.http.uppercase"}}, nil,
			`httpPipeline.handlers[0]: no middleware component named "ghost"`, 0, 0},
		{"missing in appHttpPipeline", nil, []resources.HandlerSpec{{Name: "upper", Type: "middleware.http.ratelimit"}},
			`appHttpPipeline.handlers[0]: no middleware component named "upper" of type middleware.http.ratelimit/v1`, 0, 0},
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "upper.yaml"), []byte(upperComponent), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	set, err := resources.Load(ctx, resources.LoadOptions{ResourcesPaths: []string{dir}, AppID: "myapp", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	comps, err := loadComponents(ctx, componentEnv{appID: "myapp", log: log}, set.Components)
	if err != nil {
		t.Fatal(err)
	}
	defer comps.close(log)
	if len(comps.middlewares) != 1 || len(comps.registered) != 1 || comps.registered[0].GetType() != "middleware.http.uppercase" {
		t.Fatalf("middleware not loaded/registered: %+v", comps.registered)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &resources.Configuration{}
			cfg.Spec.HTTPPipeline.Handlers = tt.api
			cfg.Spec.AppHTTPPipeline.Handlers = tt.app
			p, err := buildPipelines(cfg, comps, log)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(p.api.Names()) != tt.wantAPI || len(p.app.Names()) != tt.wantApp {
				t.Errorf("pipelines = %v / %v", p.api.Names(), p.app.Names())
			}
		})
	}
}
