package kubernetes

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/outrigger/outrigger/internal/secretstores"
)

func notInCluster() (*rest.Config, error) { return nil, rest.ErrNotInCluster }

func TestRestConfig(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	kubeconfig := writeKubeconfig(t, srv)
	inCluster := func() (*rest.Config, error) { return &rest.Config{Host: "https://in-cluster:443"}, nil }
	brokenCluster := func() (*rest.Config, error) { return nil, errors.New("token file unreadable") }

	tests := []struct {
		name      string
		path      string
		inCluster func() (*rest.Config, error)
		wantHost  string
		wantErr   []string // substrings of the error
	}{
		{"kubeconfigPath", kubeconfig, notInCluster, srv.URL, nil},
		{"kubeconfigPath wins over in-cluster", kubeconfig, inCluster, srv.URL, nil},
		{"in-cluster otherwise", "", inCluster, "https://in-cluster:443", nil},
		{"neither", "", notInCluster, "", []string{"not running in a pod", "kubeconfigPath"}},
		{"missing kubeconfig file", filepath.Join(t.TempDir(), "nope"), inCluster, "", []string{"kubeconfigPath", "nope"}},
		{"in-cluster config broken", "", brokenCluster, "", []string{"token file unreadable", "kubeconfigPath"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := restConfig(tt.path, tt.inCluster)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("got config for %s, want an error", cfg.Host)
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				return
			}
			if err != nil || cfg.Host != tt.wantHost {
				t.Fatalf("got %v, %v; want host %s", cfg, err, tt.wantHost)
			}
		})
	}
}

// TestInitFailsWithoutCluster: the component init fails with a message that
// says what to set; the sidecar decides whether that stops it.
func TestInitFailsWithoutCluster(t *testing.T) {
	s := New()
	s.inCluster = notInCluster
	err := s.Init(context.Background(), secretstores.Metadata{Name: "k", Properties: map[string]string{}})
	if err == nil || !strings.Contains(err.Error(), "kubeconfigPath") {
		t.Fatalf("Init error %v; want one naming kubeconfigPath", err)
	}
}
