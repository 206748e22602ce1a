package apiaccess

import (
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/resources"
)

func rule(name, version, protocol string) resources.APIAccessRule {
	return resources.APIAccessRule{Name: name, Version: version, Protocol: protocol}
}

func TestHTTPAllowed(t *testing.T) {
	tests := []struct {
		name    string
		spec    resources.APISpec
		path    string
		allowed bool
	}{
		{"no lists", resources.APISpec{}, "v1.0/state/s/k", true},
		{"allow group", resources.APISpec{Allowed: []resources.APIAccessRule{rule("state", "v1", "http")}}, "v1.0/state/s/k", true},
		{"allow group, other api", resources.APISpec{Allowed: []resources.APIAccessRule{rule("state", "v1", "http")}}, "v1.0/publish/p/t", false},
		{"allow legacy path version", resources.APISpec{Allowed: []resources.APIAccessRule{rule("state", "v1.0", "http")}}, "v1.0/state/s/k", true},
		{"legacy does not cover alpha path", resources.APISpec{Allowed: []resources.APIAccessRule{rule("state", "v1.0", "http")}}, "v1.0-alpha1/state/s/query", false},
		{"alpha group", resources.APISpec{Allowed: []resources.APIAccessRule{rule("state", "v1alpha1", "http")}}, "v1.0-alpha1/state/s/query", true},
		{"lock and unlock are separate", resources.APISpec{Allowed: []resources.APIAccessRule{rule("lock", "v1alpha1", "http")}}, "v1.0-alpha1/unlock/s", false},
		{"deny", resources.APISpec{Denied: []resources.APIAccessRule{rule("state", "v1", "http")}}, "v1.0/state/s/k", false},
		{"deny other", resources.APISpec{Denied: []resources.APIAccessRule{rule("state", "v1", "http")}}, "v1.0/secrets/s/k", true},
		{"deny wins", resources.APISpec{Allowed: []resources.APIAccessRule{rule("state", "v1", "http")}, Denied: []resources.APIAccessRule{rule("state", "v1.0", "http")}}, "v1.0/state/s/k", false},
		{"grpc rule ignored", resources.APISpec{Denied: []resources.APIAccessRule{rule("state", "v1", "grpc")}}, "v1.0/state/s/k", true},
		{"rule without protocol ignored", resources.APISpec{Denied: []resources.APIAccessRule{rule("state", "v1", "")}}, "v1.0/state/s/k", true},
		{"health always", resources.APISpec{Allowed: []resources.APIAccessRule{rule("state", "v1", "http")}}, "v1.0/healthz", true},
		{"non-api path is invoke", resources.APISpec{Allowed: []resources.APIAccessRule{rule("state", "v1", "http")}}, "orders/new", false},
		{"non-api path allowed with invoke", resources.APISpec{Allowed: []resources.APIAccessRule{rule("invoke", "v1", "http")}}, "orders/new", true},
		{"protocol case", resources.APISpec{Denied: []resources.APIAccessRule{rule("actors", "v1", "HTTP")}}, "v1.0/actors/t/i/method/m", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts := strings.Split(tt.path, "/")
			if got := New(tt.spec).HTTPAllowed(parts[0], parts[1:]); got != tt.allowed {
				t.Fatalf("HTTPAllowed(%s) = %v, want %v", tt.path, got, tt.allowed)
			}
		})
	}
}

func TestInvokeAllowed(t *testing.T) {
	if !New(resources.APISpec{}).InvokeAllowed() {
		t.Fatal("no lists must allow invoke")
	}
	if New(resources.APISpec{Allowed: []resources.APIAccessRule{rule("state", "v1", "http")}}).InvokeAllowed() {
		t.Fatal("an allow list without invoke must remove it")
	}
	if !New(resources.APISpec{Allowed: []resources.APIAccessRule{rule("invoke", "v1.0", "http")}}).InvokeAllowed() {
		t.Fatal("the legacy invoke rule must allow it")
	}
}

func TestGRPCGroup(t *testing.T) {
	tests := []struct {
		method string
		want   Group
		ok     bool
	}{
		{"/dapr.proto.runtime.v1.Dapr/GetState", Group{"state", "v1"}, true},
		{"/dapr.proto.runtime.v1.Dapr/QueryStateAlpha1", Group{"state", "v1alpha1"}, true},
		{"/dapr.proto.runtime.v1.Dapr/TryLockAlpha1", Group{"lock", "v1alpha1"}, true},
		{"/dapr.proto.runtime.v1.Dapr/UnlockAlpha1", Group{"unlock", "v1alpha1"}, true},
		{"/dapr.proto.runtime.v1.Dapr/SubtleSignAlpha1", Group{"subtlecrypto", "v1alpha1"}, true},
		{"/dapr.proto.runtime.v1.Dapr/StartWorkflowBeta1", Group{"workflows", "v1beta1"}, true},
		{"/dapr.proto.runtime.v1.Dapr/InvokeActor", Group{"actors", "v1"}, true},
		{"/dapr.proto.runtime.v1.Dapr/SubscribeTopicEventsAlpha1", Group{"publish", "v1alpha1"}, true},
		{"/dapr.proto.internals.v1.ServiceInvocation/CallLocal", Group{}, false},
		{"/my.app.Greeter/SayHello", Group{}, false},
	}
	for _, tt := range tests {
		g, ok := GRPCGroup(tt.method)
		if g != tt.want || ok != tt.ok {
			t.Errorf("GRPCGroup(%s) = %v, %v; want %v, %v", tt.method, g, ok, tt.want, tt.ok)
		}
	}
}

func TestGRPCAllowed(t *testing.T) {
	r := New(resources.APISpec{Allowed: []resources.APIAccessRule{rule("state", "v1", "grpc")}})
	for method, want := range map[string]bool{
		"/dapr.proto.runtime.v1.Dapr/GetState":     true,
		"/dapr.proto.runtime.v1.Dapr/PublishEvent": false,
		"/my.app.Greeter/SayHello":                 true, // proxied app services are never filtered
	} {
		if got := r.GRPCAllowed(method); got != want {
			t.Errorf("GRPCAllowed(%s) = %v, want %v", method, got, want)
		}
	}
	if !New(resources.APISpec{Denied: []resources.APIAccessRule{rule("state", "v1", "http")}}).GRPCAllowed("/dapr.proto.runtime.v1.Dapr/GetState") {
		t.Error("an HTTP rule must not filter gRPC")
	}
}
