package kubernetes

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	k8stesting "k8s.io/client-go/testing"

	"github.com/outrigger/outrigger/internal/secretstores"
	"github.com/outrigger/outrigger/internal/secretstores/secretstoretest"
)

// sidecarNS is the namespace the tests' sidecar runs in.
const sidecarNS = "sidecar-ns"

// secretObjects turns suite secrets into Secret objects in namespace ns.
func secretObjects(ns string, secrets secretstoretest.Secrets) []runtime.Object {
	objs := make([]runtime.Object, 0, len(secrets))
	for name, data := range secrets {
		bytes := make(map[string][]byte, len(data))
		for k, v := range data {
			bytes[k] = []byte(v)
		}
		objs = append(objs, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: bytes})
	}
	return objs
}

// clientsetSecrets reads through a clientset's typed core/v1 client; the
// tests use it over client-go's fake clientset.
type clientsetSecrets struct{ client corev1client.SecretsGetter }

func (c clientsetSecrets) Get(ctx context.Context, namespace, name string) (*secret, error) {
	got, err := c.client.Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	s := fromCore(*got)
	return &s, nil
}

func (c clientsetSecrets) List(ctx context.Context, namespace string) (*secretList, error) {
	got, err := c.client.Secrets(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var l secretList
	for _, item := range got.Items {
		l.Items = append(l.Items, fromCore(item))
	}
	return &l, nil
}

func fromCore(c corev1.Secret) secret {
	var s secret
	s.Metadata.Name = c.Name
	s.Data = c.Data
	return s
}

// newFakeStore returns an initialised store over a fake cluster holding
// objs, running in sidecarNS with the given component metadata.
func newFakeStore(t *testing.T, props map[string]string, objs ...runtime.Object) (*Store, *fake.Clientset) {
	t.Helper()
	cs := fake.NewClientset(objs...)
	s := newWithAPI(clientsetSecrets{cs.CoreV1()})
	md := secretstores.Metadata{Name: "kubernetes", Properties: props, Namespace: sidecarNS}
	if err := s.Init(context.Background(), md); err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, cs
}

// TestConformance runs the shared suite over client-go's fake clientset.
func TestConformance(t *testing.T) {
	secretstoretest.Run(t, secretstoretest.Backend{
		MultiValued: true,
		New: func(t *testing.T, secrets secretstoretest.Secrets) secretstores.Store {
			// Another namespace holds secrets of the same names: reads
			// must stay in the sidecar's namespace.
			other := secretstoretest.Secrets{"db-password": {"db-password": "other namespace"}, "elsewhere": {"k": "v"}}
			objs := append(secretObjects(sidecarNS, secrets), secretObjects("other-ns", other)...)
			s, _ := newFakeStore(t, nil, objs...)
			return s
		},
		Scoped: func(t *testing.T, secrets secretstoretest.Secrets) (secretstores.Store, map[string]string) {
			s, _ := newFakeStore(t, nil, secretObjects("team-b", secrets)...)
			return s, map[string]string{"namespace": "team-b"}
		},
	})
}

func TestNamespaceChoice(t *testing.T) {
	// One secret "which" per namespace, its value naming the namespace.
	var objs []runtime.Object
	for _, ns := range []string{"req-ns", sidecarNS, "default-ns"} {
		objs = append(objs, secretObjects(ns, secretstoretest.Secrets{"which": {"ns": ns}})...)
	}
	tests := []struct {
		name             string
		sidecarNamespace string
		defaultNamespace string
		request          map[string]string
		want             string // namespace read; "" means an error
	}{
		{"request metadata wins", sidecarNS, "default-ns", map[string]string{"namespace": "req-ns"}, "req-ns"},
		{"sidecar namespace before defaultNamespace", sidecarNS, "default-ns", nil, sidecarNS},
		{"defaultNamespace when the sidecar has none", "", "default-ns", nil, "default-ns"},
		{"empty request namespace is ignored", sidecarNS, "", map[string]string{"namespace": ""}, sidecarNS},
		{"request key is case-sensitive, as in Dapr", sidecarNS, "", map[string]string{"Namespace": "req-ns"}, sidecarNS},
		{"nothing to go by", "", "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newWithAPI(clientsetSecrets{fake.NewClientset(objs...).CoreV1()})
			props := map[string]string{}
			if tt.defaultNamespace != "" {
				props["defaultNamespace"] = tt.defaultNamespace
			}
			if err := s.Init(context.Background(), secretstores.Metadata{Name: "k", Properties: props, Namespace: tt.sidecarNamespace}); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetSecret(context.Background(), "which", tt.request)
			_, bulkErr := s.BulkGetSecret(context.Background(), tt.request)
			if tt.want == "" {
				if !errors.Is(err, errNoNamespace) || !errors.Is(bulkErr, errNoNamespace) {
					t.Fatalf("get error %v, bulk error %v; want errNoNamespace for both", err, bulkErr)
				}
				for _, hint := range []string{"namespace", "NAMESPACE", "defaultNamespace"} {
					if !strings.Contains(err.Error(), hint) {
						t.Errorf("error %q does not mention %s", err, hint)
					}
				}
				return
			}
			if err != nil || bulkErr != nil || got["ns"] != tt.want {
				t.Fatalf("read %v (errors %v, %v); want the secret of namespace %s", got, err, bulkErr, tt.want)
			}
		})
	}
}

func TestMissingSecretKeepsAPIMessage(t *testing.T) {
	s, _ := newFakeStore(t, nil)
	_, err := s.GetSecret(context.Background(), "nope", nil)
	if !errors.Is(err, secretstores.ErrNotFound) {
		t.Fatalf("error %v does not wrap ErrNotFound", err)
	}
	// The app sees the API server's wording, as with Dapr.
	if want := `secrets "nope" not found`; err.Error() != want {
		t.Errorf("error message %q, want %q", err, want)
	}
}

func TestAPIErrorsPassThrough(t *testing.T) {
	s, cs := newFakeStore(t, nil)
	forbidden := errors.New(`secrets "x" is forbidden: User "system:serviceaccount:sidecar-ns:default" cannot get resource "secrets"`)
	cs.PrependReactor("*", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, forbidden
	})
	if _, err := s.GetSecret(context.Background(), "x", nil); !errors.Is(err, forbidden) || errors.Is(err, secretstores.ErrNotFound) {
		t.Errorf("get error %v; want the API error, not ErrNotFound", err)
	}
	if _, err := s.BulkGetSecret(context.Background(), nil); !errors.Is(err, forbidden) {
		t.Errorf("bulk error %v; want the API error", err)
	}
}

func TestBinaryDataIsReturnedAsIs(t *testing.T) {
	raw := map[string][]byte{"bin": {0x00, 0xff, 0xfe, 'a'}, "text": []byte("plain")}
	s, _ := newFakeStore(t, nil, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "blob", Namespace: sidecarNS}, Data: raw})
	got, err := s.GetSecret(context.Background(), "blob", nil)
	want := map[string]string{"bin": "\x00\xff\xfea", "text": "plain"}
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("got %q, %v; want %q", got, err, want)
	}
}

func TestFeatures(t *testing.T) {
	// Dapr's store advertises nothing, although Secrets hold several keys;
	// the metadata API shows an empty capability list for it.
	if f := New().Features(); f == nil || len(f) != 0 {
		t.Errorf("Features() = %#v, want an empty, non-nil list", f)
	}
}

func TestRegistered(t *testing.T) {
	s, err := secretstores.Registry.Create(Type, "v1")
	if err != nil {
		t.Fatalf("create %s: %v", Type, err)
	}
	if _, ok := s.(*Store); !ok {
		t.Errorf("registry built %T, want *Store", s)
	}
}
