package grpc_test

import (
	"context"
	"errors"
	"maps"
	"net"
	"reflect"
	"testing"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/outrigger/outrigger/internal/api"
	apigrpc "github.com/outrigger/outrigger/internal/api/grpc"
	"github.com/outrigger/outrigger/internal/resources"
	"github.com/outrigger/outrigger/internal/secretstores"
	"github.com/outrigger/outrigger/internal/secretstores/localenv"
)

// brokenSecrets fails every read.
type brokenSecrets struct{}

func (brokenSecrets) Init(context.Context, secretstores.Metadata) error { return nil }
func (brokenSecrets) Features() []secretstores.Feature                  { return nil }
func (brokenSecrets) Close() error                                      { return nil }
func (brokenSecrets) GetSecret(context.Context, string, map[string]string) (map[string]string, error) {
	return nil, errors.New("backend down")
}
func (brokenSecrets) BulkGetSecret(context.Context, map[string]string) (map[string]map[string]string, error) {
	return nil, errors.New("backend down")
}

// secretClient serves the given secret stores over bufconn.
func secretClient(t *testing.T, scopes []resources.SecretsScope, stores ...*secretstores.Component) runtimev1.DaprClient {
	t.Helper()
	cfg := &resources.Configuration{Spec: resources.ConfigurationSpec{Secrets: resources.SecretsSpec{Scopes: scopes}}}
	core := api.New(api.Config{AppID: "myapp", Secrets: stores, SecretScopes: cfg.SecretAllowed})
	srv := apigrpc.NewServer(apigrpc.Config{Core: core})
	ln := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(ln) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(); srv.Stop() })
	return runtimev1.NewDaprClient(conn)
}

// envStore is a local.env store over a fake environment.
func envStore(t *testing.T, vars map[string]string) *secretstores.Component {
	t.Helper()
	s := localenv.NewWithEnv(localenv.Env{
		Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		Environ: func() []string {
			var out []string
			for k, v := range vars {
				out = append(out, k+"="+v)
			}
			return out
		},
	})
	if err := s.Init(context.Background(), secretstores.Metadata{Name: "env", Properties: map[string]string{"prefix": "APP_"}}); err != nil {
		t.Fatal(err)
	}
	return &secretstores.Component{Name: "env", Type: "secretstores.local.env", Version: "v1", Store: s}
}

func TestSecretsOverGRPC(t *testing.T) {
	ctx := context.Background()
	vars := map[string]string{"APP_DB": "pw", "APP_KEY": "k", "APP_HIDDEN": "h", "OTHER": "o", "DAPR_API_TOKEN": "t"}
	c := secretClient(t, []resources.SecretsScope{
		{StoreName: "env", DeniedSecrets: []string{"HIDDEN"}},
		{StoreName: "locked", DefaultAccess: "deny", AllowedSecrets: []string{"only"}},
	}, envStore(t, vars), &secretstores.Component{Name: "broken", Store: brokenSecrets{}}, &secretstores.Component{Name: "locked", Store: brokenSecrets{}})

	got, err := c.GetSecret(ctx, &runtimev1.GetSecretRequest{StoreName: "env", Key: "DB"})
	if err != nil || !reflect.DeepEqual(got.GetData(), map[string]string{"DB": "pw"}) {
		t.Fatalf("get = %v, %v", got, err)
	}
	bulk, err := c.GetBulkSecret(ctx, &runtimev1.GetBulkSecretRequest{StoreName: "env"})
	if err != nil {
		t.Fatal(err)
	}
	flat := map[string]map[string]string{}
	for k, v := range bulk.GetData() {
		flat[k] = maps.Clone(v.GetSecrets())
	}
	if want := map[string]map[string]string{"DB": {"DB": "pw"}, "KEY": {"KEY": "k"}}; !reflect.DeepEqual(flat, want) {
		t.Fatalf("bulk = %v, want %v", flat, want)
	}

	tests := []struct {
		name     string
		call     func() error
		wantCode codes.Code
		wantMsg  string
	}{
		{"unknown store", func() error {
			_, err := c.GetSecret(ctx, &runtimev1.GetSecretRequest{StoreName: "nope", Key: "DB"})
			return err
		}, codes.InvalidArgument, "failed finding secret store with key nope"},
		{"unknown store bulk", func() error {
			_, err := c.GetBulkSecret(ctx, &runtimev1.GetBulkSecretRequest{StoreName: "nope"})
			return err
		}, codes.InvalidArgument, "failed finding secret store with key nope"},
		{"deny list", func() error {
			_, err := c.GetSecret(ctx, &runtimev1.GetSecretRequest{StoreName: "env", Key: "HIDDEN"})
			return err
		}, codes.PermissionDenied, `access denied by policy to get "HIDDEN" from "env"`},
		{"allow list", func() error {
			_, err := c.GetSecret(ctx, &runtimev1.GetSecretRequest{StoreName: "locked", Key: "other"})
			return err
		}, codes.PermissionDenied, `access denied by policy to get "other" from "locked"`},
		{"store error", func() error {
			_, err := c.GetSecret(ctx, &runtimev1.GetSecretRequest{StoreName: "broken", Key: "x"})
			return err
		}, codes.Internal, "failed getting secret with key x from secret store broken: backend down"},
		{"store error bulk", func() error {
			_, err := c.GetBulkSecret(ctx, &runtimev1.GetBulkSecretRequest{StoreName: "broken"})
			return err
		}, codes.Internal, "failed getting secrets from secret store broken: backend down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := status.Convert(tt.call())
			if st.Code() != tt.wantCode || st.Message() != tt.wantMsg || len(st.Details()) != 0 {
				t.Fatalf("got %v %q (details %v), want %v %q", st.Code(), st.Message(), st.Details(), tt.wantCode, tt.wantMsg)
			}
		})
	}
}

func TestSecretsNotConfiguredOverGRPC(t *testing.T) {
	c := secretClient(t, nil)
	_, err := c.GetSecret(context.Background(), &runtimev1.GetSecretRequest{StoreName: "s", Key: "k"})
	if st := status.Convert(err); st.Code() != codes.FailedPrecondition || st.Message() != "secret store is not configured" {
		t.Fatalf("get: %v", err)
	}
	_, err = c.GetBulkSecret(context.Background(), &runtimev1.GetBulkSecretRequest{StoreName: "s"})
	if st := status.Convert(err); st.Code() != codes.FailedPrecondition {
		t.Fatalf("bulk: %v", err)
	}
}
