package metrics

import (
	"context"
	"strings"

	"github.com/outrigger/outrigger/internal/appchannel"
)

// Invoker is service invocation as the API core calls it.
type Invoker interface {
	Invoke(ctx context.Context, appID string, req *appchannel.Request) (*appchannel.Response, error)
}

// WrapInvoker records dapr_runtime_service_invocation_req_sent_total and
// the res_recv metrics of the calls the app makes through the sidecar.
// With metrics off it returns inv.
func (m *Metrics) WrapInvoker(inv Invoker) Invoker {
	if m == nil || inv == nil {
		return inv
	}
	return &invoker{Invoker: inv, m: m}
}

type invoker struct {
	Invoker
	m *Metrics
}

func (i *invoker) Invoke(ctx context.Context, appID string, req *appchannel.Request) (*appchannel.Response, error) {
	method := i.m.methodLabel(req.Message.GetMessage().GetMethod())
	i.m.InvocationRequestSent(appID, method)
	start := now()
	resp, err := i.Invoker.Invoke(ctx, appID, req)
	code := 500 // the call failed before an answer
	if err == nil {
		code = int(resp.Message.GetStatus().GetCode())
	}
	i.m.InvocationResponseReceived(appID, method, code, start)
	return resp, err
}

// callerHeader is the metadata key carrying the calling app's id.
const callerHeader = "dapr-caller-app-id"

// WrapCalleeChannel records dapr_runtime_service_invocation_req_recv_total
// and res_sent_total for calls other sidecars make to this app; wrap only
// the channel the internal invocation server uses. With metrics off (or a
// nil ch) it returns ch.
func (m *Metrics) WrapCalleeChannel(ch appchannel.Channel) appchannel.Channel {
	if m == nil || ch == nil {
		return ch
	}
	return &calleeChannel{Channel: ch, m: m}
}

type calleeChannel struct {
	appchannel.Channel
	m *Metrics
}

func (c *calleeChannel) Invoke(ctx context.Context, req *appchannel.Request) (*appchannel.Response, error) {
	var caller string
	if v := req.Message.GetMetadata()[callerHeader].GetValues(); len(v) > 0 {
		caller = v[0]
	}
	method := c.m.methodLabel(req.Message.GetMessage().GetMethod())
	c.m.InvocationRequestReceived(caller, method)
	resp, err := c.Channel.Invoke(ctx, req)
	code := 500
	if err == nil {
		code = int(resp.Message.GetStatus().GetCode())
	}
	c.m.InvocationResponseSent(caller, method, code)
	return resp, err
}

// methodLabel is the method label of the service invocation metrics,
// bounded like the HTTP path label (pathMatching, low cardinality, cap).
func (m *Metrics) methodLabel(method string) string {
	return strings.TrimPrefix(m.paths.methodPath(strings.TrimPrefix(method, "/")), "/")
}
