package sidecar

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/options"
	_ "github.com/outrigger/outrigger/internal/pubsub/memory"
	"github.com/outrigger/outrigger/internal/resources"
	_ "github.com/outrigger/outrigger/internal/state/memory"
)

const outboxStore = `
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: mystore
spec:
  type: state.in-memory
  version: v1
  metadata:
  - name: outboxPublishPubsub
    value: mypubsub
  - name: outboxPublishTopic
    value: orders
`

const memoryPubSub = `
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: mypubsub
spec:
  type: pubsub.in-memory
  version: v1
`

func TestStartOutbox(t *testing.T) {
	tests := []struct {
		name    string
		docs    []string
		wantErr string
	}{
		{"pub/sub loaded", []string{outboxStore, memoryPubSub}, ""},
		{"pub/sub missing", []string{outboxStore}, `outbox of state store "mystore": outboxPublishPubsub names pub/sub "mypubsub", which is not loaded`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for i, d := range tt.docs {
				if err := os.WriteFile(filepath.Join(dir, string(rune('a'+i))+".yaml"), []byte(d), 0o600); err != nil {
					t.Fatal(err)
				}
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
			box, err := startOutbox(ctx, options.Options{AppID: "myapp"}, comps, nil, log)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer stopOutbox(box, time.Second, log)
			if !box.Enabled("mystore") {
				t.Error("outbox not enabled for mystore")
			}
		})
	}
}
