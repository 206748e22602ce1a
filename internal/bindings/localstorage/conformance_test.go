package localstorage

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/bindings/bindingstest"
)

// TestConformance works on a fresh temporary root per subtest. Each
// caller n creates, reads, lists and deletes its own file.
func TestConformance(t *testing.T) {
	file := func(n int) string { return fmt.Sprintf("dir-%d/file-%d.txt", n, n) }
	content := func(n int) string { return fmt.Sprintf("content of file %d", n) }
	md := func(n int) map[string]string { return map[string]string{"fileName": file(n)} }
	bindingstest.Run(t, bindingstest.Config{
		Metadata: func(t *testing.T) bindings.Metadata {
			return bindings.Metadata{Name: "files", Properties: map[string]string{"rootPath": filepath.Join(t.TempDir(), "root")}}
		},
		NewOutput: func() bindings.Output { return New() },
		Operations: []bindingstest.Operation{
			{
				Name: bindings.OpCreate,
				Request: func(n int) *bindings.InvokeRequest {
					return &bindings.InvokeRequest{Data: []byte(content(n)), Metadata: md(n)}
				},
				WantData: true,
				Check: func(t *testing.T, req *bindings.InvokeRequest, res *bindings.InvokeResponse) {
					var got struct{ FileName string }
					if err := json.Unmarshal(res.Data, &got); err != nil || got.FileName != req.Metadata["fileName"] {
						t.Errorf("create response %s (%v)", res.Data, err)
					}
				},
			},
			{
				Name:     bindings.OpGet,
				Request:  func(n int) *bindings.InvokeRequest { return &bindings.InvokeRequest{Metadata: md(n)} },
				WantData: true,
				Check: func(t *testing.T, _ *bindings.InvokeRequest, res *bindings.InvokeResponse) {
					if string(res.Data) != content(0) {
						t.Errorf("get = %q, want %q", res.Data, content(0))
					}
				},
			},
			{
				Name: bindings.OpList,
				Request: func(n int) *bindings.InvokeRequest {
					return &bindings.InvokeRequest{Metadata: map[string]string{"fileName": filepath.Dir(file(n))}}
				},
				WantData: true,
				Check: func(t *testing.T, _ *bindings.InvokeRequest, res *bindings.InvokeResponse) {
					var files []string
					err := json.Unmarshal(res.Data, &files)
					if err != nil || len(files) != 1 || !filepath.IsAbs(files[0]) || !strings.HasSuffix(files[0], filepath.FromSlash(file(0))) {
						t.Errorf("list = %s (%v)", res.Data, err)
					}
				},
			},
			{
				Name:    bindings.OpDelete,
				Request: func(n int) *bindings.InvokeRequest { return &bindings.InvokeRequest{Metadata: md(n)} },
			},
		},
	})
}
