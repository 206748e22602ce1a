package localenv_test

import (
	"context"
	"testing"

	"github.com/outrigger/outrigger/internal/secretstores"
	"github.com/outrigger/outrigger/internal/secretstores/localenv"
	"github.com/outrigger/outrigger/internal/secretstores/secretstoretest"
)

// TestConformance runs the shared suite over a fake environment. The store
// is given a prefix and the environment also holds variables without it,
// reserved ones included, so the bulk read must return exactly the suite's
// secrets.
func TestConformance(t *testing.T) {
	const prefix = "SUITE_"
	secretstoretest.Run(t, secretstoretest.Backend{
		MissingIsEmpty: true, // as Dapr's local.env: an unset variable reads as ""
		New: func(t *testing.T, secrets secretstoretest.Secrets) secretstores.Store {
			vars := map[string]string{"HOME": "/home/me", "DAPR_API_TOKEN": "never returned", "APP_API_TOKEN": "nor this"}
			for name, data := range secrets {
				vars[prefix+name] = data[name]
			}
			s := localenv.NewWithEnv(mapEnv(vars))
			md := secretstores.Metadata{Name: "env", Properties: map[string]string{"prefix": prefix}}
			if err := s.Init(context.Background(), md); err != nil {
				t.Fatalf("Init: %v", err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
	})
}

// mapEnv is an environment held in a map; it is only read, so concurrent
// readers are safe.
func mapEnv(vars map[string]string) localenv.Env {
	return localenv.Env{
		Lookup: func(name string) (string, bool) { v, ok := vars[name]; return v, ok },
		Environ: func() []string {
			out := make([]string, 0, len(vars))
			for k, v := range vars {
				out = append(out, k+"="+v)
			}
			return out
		},
	}
}
