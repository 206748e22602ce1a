package compat

import (
	"maps"
	"slices"
	"testing"

	dapr "github.com/dapr/go-sdk/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestGoSDKSecrets reads secrets with the Go SDK (GetSecret, GetBulkSecret)
// from secretstores.local.file (flat and multi-valued) and
// secretstores.local.env, with secret scopes from a Configuration.
func TestGoSDKSecrets(t *testing.T) {
	t.Parallel()
	f := startSecrets(t, "secrets-go-"+uniq(t))
	c := goClient(t, f.sc)

	t.Run("file", func(t *testing.T) {
		for name, want := range f.fileBulk {
			goWantSecret(t, c, fileStore, name, want)
		}
	})
	t.Run("file-bulk", func(t *testing.T) { goWantBulk(t, c, fileStore, f.fileBulk) })
	t.Run("multi-valued", func(t *testing.T) {
		for name, want := range f.multiBulk {
			goWantSecret(t, c, multiStore, name, want)
		}
	})
	t.Run("multi-valued-bulk", func(t *testing.T) { goWantBulk(t, c, multiStore, f.multiBulk) })
	t.Run("env", func(t *testing.T) {
		goWantSecret(t, c, envStore, "TOKEN", map[string]string{"TOKEN": f.envToken})
		goWantBulk(t, c, envStore, map[string]map[string]string{
			"TOKEN": {"TOKEN": f.envToken},
			"OTHER": {"OTHER": f.envOther},
		})
	})
	t.Run("env-dapr-variables-hidden", func(t *testing.T) { goEnvHidesDapr(t, c, f) })
	t.Run("scopes", func(t *testing.T) {
		goWantSecretCode(t, c, fileStore, "denied", codes.PermissionDenied)
		// allowedSecrets on multiStore excludes everything else.
		goWantSecretCode(t, c, multiStore, "plain", codes.PermissionDenied)
		goWantSecretCode(t, c, multiStore, "denied", codes.PermissionDenied)
	})
	t.Run("errors", func(t *testing.T) {
		// Without multiValued an object is not a secret (it was
		// flattened); a missing name is a store error too.
		goWantSecretCode(t, c, fileStore, "db", codes.Internal)
		goWantSecretCode(t, c, fileStore, "missing-"+uniq(t), codes.Internal)
		goWantSecretCode(t, c, "no-such-store", "plain", codes.InvalidArgument)
		if _, err := c.GetBulkSecret(callCtx(t), "no-such-store", nil); status.Code(err) != codes.InvalidArgument {
			t.Errorf("GetBulkSecret(no-such-store) error = %v, want code %v", err, codes.InvalidArgument)
		}
	})
	t.Run("metadata", func(t *testing.T) { goSecretsMetadata(t, c) })
}

func goWantSecret(t *testing.T, c dapr.Client, store, name string, want map[string]string) {
	t.Helper()
	got, err := c.GetSecret(callCtx(t), store, name, nil)
	if err != nil {
		t.Errorf("GetSecret(%s, %q): %v", store, name, err)
		return
	}
	if !maps.Equal(got, want) {
		t.Errorf("GetSecret(%s, %q) = %q, want %q", store, name, got, want)
	}
}

func goWantBulk(t *testing.T, c dapr.Client, store string, want map[string]map[string]string) {
	t.Helper()
	got, err := c.GetBulkSecret(callCtx(t), store, nil)
	if err != nil {
		t.Errorf("GetBulkSecret(%s): %v", store, err)
		return
	}
	if !maps.EqualFunc(got, want, maps.Equal) {
		t.Errorf("GetBulkSecret(%s) = %q, want %q", store, got, want)
	}
}

func goWantSecretCode(t *testing.T, c dapr.Client, store, name string, want codes.Code) {
	t.Helper()
	got, err := c.GetSecret(callCtx(t), store, name, nil)
	if status.Code(err) != want {
		t.Errorf("GetSecret(%s, %q) = %q, %v; want code %v", store, name, got, err, want)
	}
}

// goEnvHidesDapr checks that DAPR_* variables are never returned by the
// env store (components.md), while ordinary variables are. The bulk answer
// holds the sidecar's whole environment, so only names are reported.
func goEnvHidesDapr(t *testing.T, c dapr.Client, f *secretsFixture) {
	got, err := c.GetSecret(callCtx(t), envAllStore, f.envDapr, nil)
	if err == nil && got[f.envDapr] != "" {
		t.Errorf("GetSecret(%s, %s) returned the DAPR_* variable's value", envAllStore, f.envDapr)
	}
	bulk, err := c.GetBulkSecret(callCtx(t), envAllStore, nil)
	if err != nil {
		t.Fatalf("GetBulkSecret(%s): %v", envAllStore, err)
	}
	if _, ok := bulk[f.envDapr]; ok {
		t.Errorf("GetBulkSecret(%s) lists %s", envAllStore, f.envDapr)
	}
	name := f.envPrefix + "TOKEN"
	if !maps.Equal(bulk[name], map[string]string{name: f.envToken}) {
		t.Errorf("GetBulkSecret(%s)[%s] = %q, want its value", envAllStore, name, bulk[name])
	}
}

// goSecretsMetadata checks the stores are listed with their features: only
// the multi-valued file store has MULTIPLE_KEY_VALUES_PER_SECRET.
func goSecretsMetadata(t *testing.T, c dapr.Client) {
	md, err := c.GetMetadata(callCtx(t))
	if err != nil {
		t.Fatalf("GetMetadata: %v", err)
	}
	cases := []struct {
		name, typ string
		multi     bool
	}{
		{fileStore, "secretstores.local.file", false},
		{multiStore, "secretstores.local.file", true},
		{envStore, "secretstores.local.env", false},
	}
	for _, tc := range cases {
		comp := findComponent(md.RegisteredComponents, tc.name)
		if comp == nil {
			t.Errorf("GetMetadata components %s do not list %q", describeComponents(md.RegisteredComponents), tc.name)
			continue
		}
		if comp.Type != tc.typ || comp.Version != "v1" {
			t.Errorf("component %q: type %q version %q, want %q v1", tc.name, comp.Type, comp.Version, tc.typ)
		}
		if got := slices.Contains(comp.Capabilities, "MULTIPLE_KEY_VALUES_PER_SECRET"); got != tc.multi {
			t.Errorf("component %q capabilities %v: MULTIPLE_KEY_VALUES_PER_SECRET listed = %v, want %v", tc.name, comp.Capabilities, got, tc.multi)
		}
	}
}
