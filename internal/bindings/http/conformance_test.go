package http

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/bindings/bindingstest"
)

// TestConformance calls an httptest server that answers every verb with
// the verb, path and request body it got, so each operation's response
// shows it reached the server as that verb.
func TestConformance(t *testing.T) {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Method", r.Method)
		_, _ = fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, body)
	})
	var ops []bindingstest.Operation
	// Every verb, and create: POST under its older name.
	for _, name := range []string{"create", "get", "head", "post", "put", "patch", "delete", "options", "trace"} {
		verb, withBody, _ := method(name)
		ops = append(ops, bindingstest.Operation{
			Name: name,
			Request: func(n int) *bindings.InvokeRequest {
				req := &bindings.InvokeRequest{Metadata: map[string]string{"path": "/items/" + strconv.Itoa(n)}}
				if withBody {
					req.Data = []byte(`{"n":` + strconv.Itoa(n) + `}`)
				}
				return req
			},
			WantData:     verb != http.MethodHead,
			WantMetadata: []string{"statusCode", "status", "X-Method"},
			Check: func(t *testing.T, req *bindings.InvokeRequest, res *bindings.InvokeResponse) {
				want := ""
				if verb != http.MethodHead {
					want = fmt.Sprintf("%s %s %s", verb, req.Metadata["path"], req.Data)
				}
				if res.Metadata["statusCode"] != "200" || res.Metadata["X-Method"] != verb || string(res.Data) != want {
					t.Errorf("%s: response %q %v, want %q", name, res.Data, res.Metadata, want)
				}
			},
		})
	}
	bindingstest.Run(t, bindingstest.Config{
		Metadata: func(t *testing.T) bindings.Metadata {
			srv := httptest.NewServer(echo)
			t.Cleanup(srv.Close)
			return bindings.Metadata{Name: "web", Properties: map[string]string{"url": srv.URL}}
		},
		NewOutput:  func() bindings.Output { return New() },
		Operations: ops,
		// A client with no connection state: Close only drops idle
		// connections.
		InvokeAfterCloseSucceeds: true,
	})
}
