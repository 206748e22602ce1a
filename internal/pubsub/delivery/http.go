package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"golang.org/x/net/http/httpguts"

	"github.com/outrigger/outrigger/internal/appchannel"
	"github.com/outrigger/outrigger/internal/telemetry/tracing"
)

// maxStatusBody bounds how much of an app's answer is read to find its
// status; bigger answers are not status documents.
const maxStatusBody = 1 << 20

// HTTPStatusError is a delivery the app answered with an error status; it
// lets resiliency policies match on the status code.
type HTTPStatusError struct {
	Code int
}

func (e *HTTPStatusError) Error() string {
	return fmt.Sprintf("app answered HTTP %d", e.Code)
}

// ResiliencyStatus reports the HTTP status to retry matching.
func (e *HTTPStatusError) ResiliencyStatus() (code int, grpc bool) { return e.Code, false }

// deliverHTTP POSTs one event to an HTTP app and reads its answer (Dapr's
// single-event response contract).
func (e *Engine) deliverHTTP(ctx context.Context, d *delivery) (outcome, error) {
	hdr := make(headers, len(d.msg.Metadata)+2)
	for k, v := range d.msg.Metadata {
		// A header net/http would refuse must not make the message
		// undeliverable forever.
		if httpguts.ValidHeaderFieldName(k) && httpguts.ValidHeaderFieldValue(v) {
			hdr.set(k, v)
		}
	}
	hdr.set("pubsubName", d.sub.pubsub)
	// Dapr always sends a traceparent: the app channel sets the delivery
	// span's; an untraced event gets the all-zero one.
	if _, ok := hdr["traceparent"]; !ok {
		hdr.set("traceparent", tracing.ZeroTraceparent)
	}
	code, body, err := e.callHTTP(ctx, d.path, contentTypeCloudEvent, hdr, d.ev.body)
	if err != nil {
		return outcomeRetry, err
	}
	return httpOutcome(code, body)
}

// httpOutcome maps the app's answer to one event.
func httpOutcome(code int, body []byte) (outcome, error) {
	switch {
	case code == http.StatusNotFound:
		return outcomeDrop, &HTTPStatusError{Code: code}
	case code < 200 || code > 299:
		return outcomeRetry, &HTTPStatusError{Code: code}
	}
	if len(body) == 0 || string(body) == `{"status":"SUCCESS"}` {
		return outcomeSuccess, nil // the usual answers, without decoding
	}
	var resp struct {
		Status string `json:"status"`
	}
	if json.Unmarshal(body, &resp) != nil {
		return outcomeSuccess, nil // empty or not a status document
	}
	switch strings.ToUpper(resp.Status) {
	case "", "SUCCESS":
		return outcomeSuccess, nil
	case "DROP":
		return outcomeDrop, fmt.Errorf("app answered status DROP")
	case "RETRY":
		return outcomeRetry, fmt.Errorf("app answered status RETRY")
	}
	return outcomeRetry, fmt.Errorf("app answered unknown status %q", resp.Status)
}

// callHTTP POSTs body to the route through the app channel and returns the
// status and (the start of) the answer.
func (e *Engine) callHTTP(ctx context.Context, route, contentType string, hdr headers, body []byte) (int, []byte, error) {
	req := newAppRequest(e.method(route), commonv1.HTTPExtension_POST, contentType, hdr)
	resp, err := e.cfg.Channel.Invoke(ctx, &appchannel.Request{Message: req, Body: bytes.NewReader(body)})
	if err != nil {
		return 0, nil, fmt.Errorf("delivering to %s: %w", route, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxStatusBody))
	if err != nil {
		return 0, nil, fmt.Errorf("reading the app's answer from %s: %w", route, err)
	}
	return int(resp.Message.GetStatus().GetCode()), answer, nil
}

// headers are the request headers in the app channel's form, built
// directly so a delivery does not build a second map.
type headers map[string]*internalsv1.ListStringValue

func (h headers) set(k, v string) { h[k] = &internalsv1.ListStringValue{Values: []string{v}} }

func newAppRequest(method string, verb commonv1.HTTPExtension_Verb, contentType string, hdr headers) *internalsv1.InternalInvokeRequest {
	if hdr == nil {
		hdr = headers{}
	}
	return &internalsv1.InternalInvokeRequest{
		Ver:      internalsv1.APIVersion_V1,
		Metadata: hdr,
		Message: &commonv1.InvokeRequest{
			Method:        method,
			ContentType:   contentType,
			HttpExtension: &commonv1.HTTPExtension{Verb: verb},
		},
	}
}

// method is methodOf(route), remembered: an app has a handful of routes
// and every delivery needs one.
func (e *Engine) method(route string) string {
	if m, ok := e.methods.Load(route); ok {
		return m.(string)
	}
	m := methodOf(route)
	e.methods.Store(route, m)
	return m
}

// methodOf turns a route into the channel's method: the cleaned path
// without its leading slash.
func methodOf(route string) string {
	return strings.TrimPrefix(path.Clean("/"+route), "/")
}
