package inputs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"golang.org/x/net/http/httpguts"

	"github.com/outrigger/outrigger/internal/appchannel"
	"github.com/outrigger/outrigger/internal/bindings"
)

const jsonContentType = "application/json"

// maxErrorBody bounds how much of a failed answer goes into the error.
const maxErrorBody = 4 << 10

// probeHTTP is OPTIONS /<route>: 2xx or 405 means the app has the route.
func (e *Engine) probeHTTP(ctx context.Context, b *Binding) (bool, error) {
	req := appRequest(b.route(), commonv1.HTTPExtension_OPTIONS, nil)
	resp, err := e.cfg.Channel.Invoke(ctx, &appchannel.Request{Message: req})
	if err != nil {
		return false, fmt.Errorf("OPTIONS %s: %w", b.route(), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	code := int(resp.Message.GetStatus().GetCode())
	return code/100 == 2 || code == http.StatusMethodNotAllowed, nil
}

// deliverHTTP is POST /<route> with the event data as the body and its
// metadata as headers. A 2xx answer is success; its body goes back to the
// binding.
func (e *Engine) deliverHTTP(ctx context.Context, b *Binding, ev *bindings.Event) ([]byte, error) {
	req := appRequest(b.route(), commonv1.HTTPExtension_POST, ev.Metadata)
	resp, err := e.cfg.Channel.Invoke(ctx, &appchannel.Request{Message: req, Body: bytes.NewReader(ev.Data)})
	if err != nil {
		return nil, fmt.Errorf("error invoking app: %w", err)
	}
	defer resp.Body.Close()
	body, readErr := io.ReadAll(resp.Body)
	if code := resp.Message.GetStatus().GetCode(); code < 200 || code > 299 {
		if len(body) > maxErrorBody {
			body = body[:maxErrorBody]
		}
		return nil, &statusError{code: int(code), err: fmt.Errorf("fails to send binding event to http app channel, status code: %d body: %s", code, body)}
	}
	if readErr != nil {
		return nil, fmt.Errorf("failed to read response body: %w", readErr)
	}
	return body, nil
}

// appRequest builds a call to the app: the route as the method, JSON as
// the content type, and one header per metadata key that HTTP can carry.
func appRequest(route string, verb commonv1.HTTPExtension_Verb, md map[string]string) *internalsv1.InternalInvokeRequest {
	hdr := make(map[string]*internalsv1.ListStringValue, len(md))
	for k, v := range md {
		// One bad key must not make every event undeliverable.
		if httpguts.ValidHeaderFieldName(k) && httpguts.ValidHeaderFieldValue(v) {
			hdr[k] = &internalsv1.ListStringValue{Values: []string{v}}
		}
	}
	return &internalsv1.InternalInvokeRequest{
		Ver:      internalsv1.APIVersion_V1,
		Metadata: hdr,
		Message: &commonv1.InvokeRequest{
			Method:        strings.TrimPrefix(path.Clean("/"+route), "/"),
			ContentType:   jsonContentType,
			HttpExtension: &commonv1.HTTPExtension{Verb: verb},
		},
	}
}

// statusError is a delivery the app answered with an error status; it lets
// resiliency policies match on the status code.
type statusError struct {
	code int
	err  error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// ResiliencyStatus reports the HTTP status to retry matching.
func (e *statusError) ResiliencyStatus() (code int, grpc bool) { return e.code, false }
