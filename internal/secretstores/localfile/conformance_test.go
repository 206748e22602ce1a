package localfile_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/outrigger/outrigger/internal/secretstores"
	"github.com/outrigger/outrigger/internal/secretstores/localfile"
	"github.com/outrigger/outrigger/internal/secretstores/secretstoretest"
)

// TestConformance runs the shared suite in both modes of the store.
func TestConformance(t *testing.T) {
	for _, multiValued := range []bool{false, true} {
		t.Run("multiValued="+strconv.FormatBool(multiValued), func(t *testing.T) {
			secretstoretest.Run(t, secretstoretest.Backend{
				MultiValued: multiValued,
				New: func(t *testing.T, secrets secretstoretest.Secrets) secretstores.Store {
					return newFileStore(t, secrets, multiValued)
				},
			})
		})
	}
}

// newFileStore writes secrets as the JSON file the store reads: a secret
// whose only key is its own name is a top-level string, any other secret
// (multiValued mode only) a top-level object.
func newFileStore(t *testing.T, secrets secretstoretest.Secrets, multiValued bool) secretstores.Store {
	t.Helper()
	doc := map[string]any{}
	for name, data := range secrets {
		if v, ok := data[name]; ok && len(data) == 1 {
			doc[name] = v
		} else {
			doc[name] = data
		}
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "secrets.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	s := localfile.New()
	props := map[string]string{"secretsFile": path, "multiValued": strconv.FormatBool(multiValued)}
	if err := s.Init(context.Background(), secretstores.Metadata{Name: "files", Properties: props}); err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
