package sidecar

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/options"
	"github.com/outrigger/outrigger/internal/resources"
	_ "github.com/outrigger/outrigger/internal/secretstores/kubernetes"
)

func component(name, typ string) resources.Component {
	return resources.Component{Metadata: resources.ObjectMeta{Name: name}, Spec: resources.ComponentSpec{Type: typ, Version: "v1"}}
}

func TestWithBuiltinSecretStore(t *testing.T) {
	declared := []resources.Component{component("statestore", "state.in-memory")}
	tests := []struct {
		name      string
		opts      options.Options
		comps     []resources.Component
		wantNames []string
	}{
		{"standalone has none", options.Options{Mode: "standalone"}, declared, []string{"statestore"}},
		{"kubernetes adds it first", options.Options{Mode: "kubernetes"}, declared, []string{"kubernetes", "statestore"}},
		{"flag disables it", options.Options{Mode: "kubernetes", DisableBuiltinK8sSecretStore: true}, declared, []string{"statestore"}},
		{"declared name wins", options.Options{Mode: "kubernetes"},
			[]resources.Component{component("kubernetes", "secretstores.local.file")}, []string{"kubernetes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := withBuiltinSecretStore(tt.opts, tt.comps)
			if len(got) != len(tt.wantNames) {
				t.Fatalf("got %d components, want %v", len(got), tt.wantNames)
			}
			for i, c := range got {
				if c.Name() != tt.wantNames[i] {
					t.Errorf("component %d = %q, want %q", i, c.Name(), tt.wantNames[i])
				}
			}
			if len(got) > len(tt.comps) {
				b := got[0]
				if b.Spec.Type != "secretstores.kubernetes" || b.Spec.Version != "v1" || !b.Spec.IgnoreErrors {
					t.Errorf("built-in store spec = %+v", b.Spec)
				}
			}
		})
	}
}

func TestDefaultSecretStore(t *testing.T) {
	if got := defaultSecretStore(options.Options{Mode: "kubernetes"}); got != "kubernetes" {
		t.Errorf("kubernetes mode: %q", got)
	}
	if got := defaultSecretStore(options.Options{Mode: "standalone"}); got != "" {
		t.Errorf("standalone mode: %q", got)
	}
}

// TestBuiltinSecretStoreNeverStopsStartup: whether or not the test runs
// inside a cluster, loading the built-in store must not fail the sidecar;
// outside one, the store is left out with a warning that says why.
func TestBuiltinSecretStoreNeverStopsStartup(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	comps := withBuiltinSecretStore(options.Options{Mode: "kubernetes"}, nil)
	l, err := loadComponents(context.Background(), componentEnv{appID: "app", log: log}, comps)
	if err != nil {
		t.Fatalf("loadComponents: %v", err)
	}
	defer l.close(log)
	if os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		return // in a pod the store may well load
	}
	if len(l.secrets) != 0 {
		t.Errorf("built-in store loaded outside a cluster")
	}
	if !strings.Contains(logs.String(), "ignoreErrors") || !strings.Contains(logs.String(), "kubeconfigPath") {
		t.Errorf("no warning naming the fix; logs:\n%s", logs.String())
	}
}
