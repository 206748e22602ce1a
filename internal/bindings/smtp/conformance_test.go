package smtp

import (
	"fmt"
	"slices"
	"testing"

	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/bindings/bindingstest"
)

// TestConformance sends through the in-test mail server; each caller n
// mails its own recipient, so the server's log shows every mail arrived.
func TestConformance(t *testing.T) {
	srv := startServer(t, true, false)
	rcpt := func(n int) string { return fmt.Sprintf("rcpt-%d@example.com", n) }
	bindingstest.Run(t, bindingstest.Config{
		Metadata: func(*testing.T) bindings.Metadata {
			return bindings.Metadata{Name: "mail", Properties: map[string]string{
				"host": "127.0.0.1", "port": srv.port(), "user": "u", "password": "p",
				"emailFrom": "from@example.com", "subject": "conformance",
			}}
		},
		NewOutput: func() bindings.Output { return New() },
		Operations: []bindingstest.Operation{{
			Name: bindings.OpCreate,
			Request: func(n int) *bindings.InvokeRequest {
				return &bindings.InvokeRequest{Data: fmt.Appendf(nil, `"<p>mail %d</p>"`, n), Metadata: map[string]string{"emailTo": rcpt(n)}}
			},
			Check: func(t *testing.T, _ *bindings.InvokeRequest, res *bindings.InvokeResponse) {
				if res != nil {
					t.Errorf("response %+v, want none", res)
				}
				if !slices.ContainsFunc(srv.all(), func(m received) bool { return slices.Equal(m.rcpt, []string{"<" + rcpt(0) + ">"}) }) {
					t.Errorf("no mail to %s among %+v", rcpt(0), srv.all())
				}
			},
		}},
		// Every mail has its own connection: Close has nothing to release.
		InvokeAfterCloseSucceeds: true,
	})
}
