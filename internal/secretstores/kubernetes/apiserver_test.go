package kubernetes

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/outrigger/outrigger/internal/secretstores"
	"github.com/outrigger/outrigger/internal/secretstores/secretstoretest"
)

const apiToken = "test-token"

// forbiddenNS is a namespace the fake API server refuses access to.
const forbiddenNS = "locked"

// fakeAPIServer serves the two core/v1 Secret reads the store makes, from
// secrets by namespace, the way the Kubernetes API server answers them
// (TLS, bearer token, JSON, base64 data, Status objects for errors). It lets the tests run the
// store's real REST client.
func fakeAPIServer(t *testing.T, byNamespace map[string]secretstoretest.Secrets) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer "+apiToken {
			writeStatus(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized")
			return
		}
		// /api/v1/namespaces/<ns>/secrets[/<name>]
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/v1/namespaces/"), "/")
		if r.Method != http.MethodGet || len(parts) < 2 || len(parts) > 3 || parts[1] != "secrets" {
			writeStatus(w, http.StatusNotFound, "NotFound", "the server could not find the requested resource")
			return
		}
		if parts[0] == forbiddenNS {
			writeStatus(w, http.StatusForbidden, "Forbidden", `secrets is forbidden: User "test" cannot list resource "secrets" in the namespace "`+forbiddenNS+`"`)
			return
		}
		secrets := byNamespace[parts[0]]
		if len(parts) == 2 {
			items := []any{}
			for name, data := range secrets {
				items = append(items, secretJSON(parts[0], name, data))
			}
			writeJSON(w, http.StatusOK, map[string]any{"kind": "SecretList", "apiVersion": "v1", "metadata": map[string]any{}, "items": items})
			return
		}
		data, ok := secrets[parts[2]]
		if !ok {
			writeStatus(w, http.StatusNotFound, "NotFound", `secrets "`+parts[2]+`" not found`)
			return
		}
		writeJSON(w, http.StatusOK, secretJSON(parts[0], parts[2], data))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// secretJSON is a Secret as the API server sends it; encoding/json turns
// the []byte values into base64, as the API does.
func secretJSON(namespace, name string, data map[string]string) map[string]any {
	b := make(map[string][]byte, len(data))
	for k, v := range data {
		b[k] = []byte(v)
	}
	return map[string]any{"kind": "Secret", "apiVersion": "v1", "metadata": map[string]any{"name": name, "namespace": namespace}, "data": b}
}

func writeStatus(w http.ResponseWriter, code int, reason, message string) {
	writeJSON(w, code, map[string]any{"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{},
		"status": "Failure", "reason": reason, "message": message, "code": code})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeKubeconfig writes a kubeconfig for srv, trusting its certificate,
// and returns its path.
func writeKubeconfig(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	const tmpl = `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: SERVER
    certificate-authority-data: CA
contexts:
- name: test
  context:
    cluster: test
    user: test
current-context: test
users:
- name: test
  user:
    token: TOKEN
`
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	content := strings.NewReplacer("SERVER", srv.URL, "CA", base64.StdEncoding.EncodeToString(ca), "TOKEN", apiToken).Replace(tmpl)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// newRESTStore returns a store with the production REST client against a
// fake API server holding byNamespace. Client-side throttling is off: the
// suite's concurrent readers would otherwise queue behind client-go's
// default of 5 requests a second (Dapr's client has the same default).
func newRESTStore(t *testing.T, byNamespace map[string]secretstoretest.Secrets) *Store {
	t.Helper()
	srv := fakeAPIServer(t, byNamespace)
	cfg, err := restConfig(writeKubeconfig(t, srv), notInCluster)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS = -1
	api, err := newRESTSecrets(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := newWithAPI(api)
	if err := s.Init(context.Background(), secretstores.Metadata{Name: "k", Namespace: sidecarNS}); err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestConformanceThroughREST runs the shared suite over the store's real
// REST client: request paths, auth, decoding and API errors.
func TestConformanceThroughREST(t *testing.T) {
	secretstoretest.Run(t, secretstoretest.Backend{
		MultiValued: true,
		New: func(t *testing.T, secrets secretstoretest.Secrets) secretstores.Store {
			other := secretstoretest.Secrets{"db-password": {"db-password": "other namespace"}}
			return newRESTStore(t, map[string]secretstoretest.Secrets{sidecarNS: secrets, "other-ns": other})
		},
		Scoped: func(t *testing.T, secrets secretstoretest.Secrets) (secretstores.Store, map[string]string) {
			return newRESTStore(t, map[string]secretstoretest.Secrets{"team-b": secrets}), map[string]string{"namespace": "team-b"}
		},
	})
}

// TestInitWithKubeconfig goes the production way end to end: Init reads
// kubeconfigPath and builds the client, reads reach the API server.
func TestInitWithKubeconfig(t *testing.T) {
	srv := fakeAPIServer(t, map[string]secretstoretest.Secrets{"apps": {"db": {"user": "admin", "password": "pw"}}})
	s := New()
	s.inCluster = notInCluster
	props := map[string]string{"kubeconfigPath": writeKubeconfig(t, srv)}
	if err := s.Init(context.Background(), secretstores.Metadata{Name: "k", Properties: props, Namespace: "apps"}); err != nil {
		t.Fatalf("Init: %v", err)
	}
	got, err := s.GetSecret(context.Background(), "db", nil)
	if want := map[string]string{"user": "admin", "password": "pw"}; err != nil || !maps.Equal(got, want) {
		t.Errorf("GetSecret = %q, %v; want %q", got, err, want)
	}
	// A missing Secret: ErrNotFound, with the API server's own message.
	_, err = s.GetSecret(context.Background(), "nope", nil)
	if want := `secrets "nope" not found`; !errors.Is(err, secretstores.ErrNotFound) || err.Error() != want {
		t.Errorf("missing secret: error %v, want %q wrapping ErrNotFound", err, want)
	}
}

func TestRESTForbiddenIsNotNotFound(t *testing.T) {
	s := newRESTStore(t, nil)
	md := map[string]string{"namespace": forbiddenNS}
	_, err := s.GetSecret(context.Background(), "x", md)
	if !apierrors.IsForbidden(err) || errors.Is(err, secretstores.ErrNotFound) || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("get error %v; want the API's Forbidden error", err)
	}
	if _, err := s.BulkGetSecret(context.Background(), md); !apierrors.IsForbidden(err) {
		t.Errorf("bulk error %v; want the API's Forbidden error", err)
	}
}
