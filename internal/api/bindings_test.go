package api

import (
	"context"
	"errors"
	"strings"
	"testing"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/bindings"
)

func TestValidateBaggage(t *testing.T) {
	valid := []string{"k=v", "k1=v1,k2=v2", " k = v ; p ; q=1 , k2=%20x", "userId=alice;meta", "k="}
	for _, s := range valid {
		if err := ValidateBaggage(s); err != nil {
			t.Errorf("ValidateBaggage(%q): %v", s, err)
		}
	}
	invalid := []string{"invalid-baggage", "k=v,nokey", "=v", "k=a b", `k="q"`, "k y=v", "k=v;=p", "k=v,,k2=v2", "k=" + strings.Repeat("x", 8200)}
	for _, s := range invalid {
		if err := ValidateBaggage(s); err == nil {
			t.Errorf("ValidateBaggage(%q) accepted", s)
		}
	}
}

func TestTraceMetadata(t *testing.T) {
	md, err := TraceMetadata(nil, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "", "a=b")
	if err != nil || len(md) != 2 || md["baggage"] != "a=b" || md["traceparent"] == "" {
		t.Fatalf("TraceMetadata = %v, %v", md, err)
	}
	md, err = TraceMetadata(map[string]string{"k": "v"}, "", "", "")
	if err != nil || len(md) != 1 {
		t.Fatalf("no trace context = %v, %v", md, err)
	}
	_, err = TraceMetadata(nil, "", "", "bad")
	if e := apierr.From(err); e.Code != "ERR_MALFORMED_REQUEST" || e.HTTPStatus != 400 || !strings.HasPrefix(e.Message, "invalid baggage header: ") {
		t.Fatalf("bad baggage: %+v", e)
	}
}

// opsBinding supports create and get; it fails with metadata on "fail".
type opsBinding struct{ got *bindings.InvokeRequest }

func (b *opsBinding) Init(context.Context, bindings.Metadata) error { return nil }
func (b *opsBinding) Operations() []string                          { return []string{"create", "get"} }
func (b *opsBinding) Close() error                                  { return nil }
func (b *opsBinding) Invoke(_ context.Context, req *bindings.InvokeRequest) (*bindings.InvokeResponse, error) {
	b.got = req
	if req.Metadata["fail"] != "" {
		return &bindings.InvokeResponse{Metadata: map[string]string{"why": "asked to"}}, errors.New("boom")
	}
	return &bindings.InvokeResponse{Data: req.Data}, nil
}

func TestInvokeBindingCore(t *testing.T) {
	b := &opsBinding{}
	c := New(Config{AppID: "app", Outputs: []*OutputBinding{{Name: "out", Type: "bindings.test", Version: "v1", Binding: b}}})
	ctx := context.Background()
	tests := []struct {
		name    string
		req     *runtimev1.InvokeBindingRequest
		wantMsg string
	}{
		{"ok", &runtimev1.InvokeBindingRequest{Name: "out", Operation: "get", Data: []byte("d")}, ""},
		{"no operation", &runtimev1.InvokeBindingRequest{Name: "out"}, "error invoking output binding out: operation field is missing from request"},
		{"unknown", &runtimev1.InvokeBindingRequest{Name: "nope", Operation: "get"}, "error invoking output binding nope: couldn't find output binding nope"},
		{"unsupported", &runtimev1.InvokeBindingRequest{Name: "out", Operation: "list"}, "error invoking output binding out: binding out does not support operation list. supported operations:create get"},
		{"component error", &runtimev1.InvokeBindingRequest{Name: "out", Operation: "create", Metadata: map[string]string{"fail": "1"}}, "error invoking output binding out: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.InvokeBinding(ctx, tt.req)
			if tt.wantMsg == "" {
				if err != nil || string(res.GetData()) != "d" {
					t.Fatalf("= %v, %v", res, err)
				}
				if b.got.Metadata == nil {
					t.Fatal("component got nil metadata")
				}
				return
			}
			e := apierr.From(err)
			if e.Code != "ERR_INVOKE_OUTPUT_BINDING" || e.Message != tt.wantMsg || e.HTTPStatus != 500 {
				t.Fatalf("error %+v", e)
			}
			if tt.name == "component error" && res.GetMetadata()["why"] != "asked to" {
				t.Fatalf("response metadata lost on error: %v", res)
			}
		})
	}
}
