package api

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/resiliency"
)

// InvokeBinding calls an output binding. A nil response means the binding
// had nothing to answer (HTTP 204). On failure the binding's response, if
// it returned one, comes back too: its metadata is still sent to the
// caller (the HTTP binding reports the status of a failed call that way).
func (c *Core) InvokeBinding(ctx context.Context, req *runtimev1.InvokeBindingRequest) (*runtimev1.InvokeBindingResponse, error) {
	name := req.GetName()
	res, err := c.SendToOutputBinding(ctx, name, &bindings.InvokeRequest{
		Operation: req.GetOperation(),
		Data:      req.GetData(),
		Metadata:  maps.Clone(req.GetMetadata()),
	})
	var out *runtimev1.InvokeBindingResponse
	if res != nil {
		out = &runtimev1.InvokeBindingResponse{Data: res.Data, Metadata: res.Metadata}
	}
	if err != nil {
		return out, apierr.InvokeOutputBinding(name, err)
	}
	return out, nil
}

// SendToOutputBinding runs one operation on an output binding; input
// bindings use it too, to pass an app's answer on. Errors are plain, in
// daprd's words; InvokeBinding wraps them in the API error.
func (c *Core) SendToOutputBinding(ctx context.Context, name string, req *bindings.InvokeRequest) (*bindings.InvokeResponse, error) {
	if req.Operation == "" {
		return nil, errors.New("operation field is missing from request")
	}
	ob, ok := c.comps().outputs[name]
	if !ok {
		return nil, fmt.Errorf("couldn't find output binding %s", name)
	}
	if !bindings.Supports(ob.Binding, req.Operation) {
		return nil, fmt.Errorf("binding %s does not support operation %s. supported operations:%s", name, req.Operation, strings.Join(ob.Binding.Operations(), " "))
	}
	if req.Metadata == nil {
		req.Metadata = map[string]string{}
	}
	var res *bindings.InvokeResponse
	err := c.measured(name, resiliency.Binding, string(req.Operation)).Run(ctx, func(ctx context.Context) (err error) {
		res, err = ob.Binding.Invoke(ctx, req)
		return err
	})
	return res, err
}

// TraceMetadata adds the caller's trace context to binding request
// metadata, as daprd does so components (e.g. bindings.http) can pass it
// on: traceparent, tracestate and baggage, each when present. Baggage must
// be valid W3C baggage.
func TraceMetadata(md map[string]string, traceparent, tracestate, baggage string) (map[string]string, error) {
	if baggage != "" {
		if err := ValidateBaggage(baggage); err != nil {
			return nil, apierr.InvalidBaggage(err)
		}
	}
	for k, v := range map[string]string{"traceparent": traceparent, "tracestate": tracestate, "baggage": baggage} {
		if v == "" {
			continue
		}
		if md == nil {
			md = map[string]string{}
		}
		md[k] = v
	}
	return md, nil
}

// Limits of the W3C baggage header.
const (
	maxBaggageBytes     = 8192
	maxBaggageMembers   = 180
	maxBaggageMemberLen = 4096
)

// ValidateBaggage checks a baggage header: comma-separated members
// `key=value`, each optionally followed by `;property` or
// `;key=value` properties; keys are HTTP tokens and values baggage
// octets (printable ASCII except space, '"', ',', ';' and '\').
func ValidateBaggage(s string) error {
	if len(s) > maxBaggageBytes {
		return fmt.Errorf("longer than %d bytes", maxBaggageBytes)
	}
	members := strings.Split(s, ",")
	if len(members) > maxBaggageMembers {
		return fmt.Errorf("more than %d members", maxBaggageMembers)
	}
	for _, m := range members {
		if len(m) > maxBaggageMemberLen {
			return fmt.Errorf("a member is longer than %d bytes", maxBaggageMemberLen)
		}
		parts := strings.Split(m, ";")
		if err := baggagePair(parts[0], true); err != nil {
			return err
		}
		for _, p := range parts[1:] {
			if err := baggagePair(p, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// baggagePair checks `key=value` (the value is optional for properties).
func baggagePair(s string, member bool) error {
	key, value, hasValue := strings.Cut(strings.TrimSpace(s), "=")
	key, value = strings.TrimSpace(key), strings.TrimSpace(value)
	if member && !hasValue {
		return fmt.Errorf("member %q has no value", s)
	}
	if key == "" || strings.IndexFunc(key, notToken) >= 0 {
		return fmt.Errorf("invalid key %q", key)
	}
	if strings.IndexFunc(value, notBaggageOctet) >= 0 {
		return fmt.Errorf("invalid value %q", value)
	}
	return nil
}

func notToken(r rune) bool {
	if r > 0x7e || r <= 0x20 {
		return true
	}
	return strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
}

func notBaggageOctet(r rune) bool {
	return r < 0x21 || r > 0x7e || r == '"' || r == ',' || r == ';' || r == '\\'
}
