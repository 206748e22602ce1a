package resiliency

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/resources"
)

// loadDir writes YAML files and loads them as the sidecar does.
func loadDir(t *testing.T, appID string, files map[string]string) []resources.Resiliency {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	set, err := resources.Load(context.Background(), resources.LoadOptions{ResourcesPaths: []string{dir}, AppID: appID, Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	return set.Resiliencies
}

func TestLoadMergeAndScopes(t *testing.T) {
	list := loadDir(t, "app1", map[string]string{
		"a.yaml": `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata: {name: first}
spec:
  policies:
    timeouts: {general: 5s}
    retries:
      fast: {policy: constant, duration: 10ms, maxRetries: 2}
  targets:
    apps:
      appB: {timeout: general, retry: fast}
    components:
      statestore:
        outbound: {retry: fast}
`,
		"b.yaml": `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata: {name: second}
spec:
  policies:
    timeouts: {general: 50ms}
  targets:
    components:
      pubsub:
        inbound: {timeout: general}
`,
		"c.yaml": `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata: {name: other-app}
scopes: [app2]
spec:
  policies:
    timeouts: {general: 1h}
`,
	})
	rec := newRecorder()
	p := newProvider(t, rec, list...)
	if len(rec.loaded) != 2 {
		t.Fatalf("loaded %v, want the two resources scoped to app1", rec.loaded)
	}
	// The later resource's "general" replaces the earlier one, and targets
	// refer to the merged names.
	if got := p.EndpointPolicy("appB").Timeout(); got != 50*time.Millisecond {
		t.Errorf("appB timeout = %v, want 50ms", got)
	}
	if !p.EndpointPolicy("appB").HasRetries() {
		t.Error("appB has no retry policy")
	}
	if got := p.ComponentInbound("pubsub", Pubsub).Timeout(); got != 50*time.Millisecond {
		t.Errorf("pubsub inbound timeout = %v", got)
	}
	if !p.ComponentOutbound("statestore", Statestore).HasRetries() {
		t.Error("statestore outbound has no retry")
	}
	if !p.EndpointPolicy("appC").IsZero() {
		t.Error("appC has a policy without a target or default")
	}
}

func TestInvalidResourceIsSkipped(t *testing.T) {
	bad := res("bad", resources.Policies{
		Timeouts:        map[string]resources.Duration{"general": "1s"},
		CircuitBreakers: map[string]resources.CircuitBreakerPolicy{"cb": {Trip: "consecutiveFailures >"}},
	}, resources.Targets{Apps: map[string]resources.EndpointPolicyNames{"appB": {Timeout: "general"}}})
	notBool := res("notbool", resources.Policies{
		CircuitBreakers: map[string]resources.CircuitBreakerPolicy{"cb": {Trip: "consecutiveFailures + 1"}},
	}, resources.Targets{})
	good := res("good", resources.Policies{Timeouts: map[string]resources.Duration{"t": "2s"}},
		resources.Targets{Apps: map[string]resources.EndpointPolicyNames{"appA": {Timeout: "t"}}})
	rec := newRecorder()
	p := newProvider(t, rec, bad, notBool, good)
	if len(rec.loaded) != 1 || rec.loaded[0] != "good" {
		t.Fatalf("loaded %v, want only good", rec.loaded)
	}
	if !p.EndpointPolicy("appB").IsZero() {
		t.Error("the skipped resource's target applies")
	}
	if p.EndpointPolicy("appA").Timeout() != 2*time.Second {
		t.Error("the good resource's target does not apply")
	}
}

func TestDefaultPolicies(t *testing.T) {
	retries := map[string]resources.RetryPolicy{}
	for _, n := range []string{
		"DefaultRetryPolicy", "DefaultAppRetryPolicy", "DefaultActorRetryPolicy",
		"DefaultComponentInboundRetryPolicy", "DefaultStatestoreComponentOutboundRetryPolicy",
		"DefaultComponentRetryPolicy", "named",
	} {
		retries[n] = resources.RetryPolicy{Duration: "1ms", MaxRetries: intp(1)}
	}
	p := newProvider(t, nil, res("r", resources.Policies{
		Retries:  retries,
		Timeouts: map[string]resources.Duration{"DefaultTimeoutPolicy": "7s", "DefaultSecretstoreComponentOutboundTimeoutPolicy": "3s"},
	}, resources.Targets{
		Apps:       map[string]resources.EndpointPolicyNames{"appA": {Retry: "named"}},
		Actors:     map[string]resources.ActorPolicyNames{"EventActor": {Retry: "named"}},
		Components: map[string]resources.ComponentPolicyNames{"actorstore": {Outbound: resources.PolicyNames{Retry: "named"}}},
	}))
	tests := []struct {
		name    string
		pol     Policy
		retry   string
		timeout time.Duration
	}{
		{"named app", p.EndpointPolicy("appA"), "named", 0},
		{"other app", p.EndpointPolicy("appC"), "DefaultAppRetryPolicy", 7 * time.Second},
		{"pubsub publish", p.ComponentOutbound("pubsub", Pubsub), "DefaultComponentRetryPolicy", 7 * time.Second},
		{"pubsub delivery", p.ComponentInbound("pubsub", Pubsub), "DefaultComponentInboundRetryPolicy", 7 * time.Second},
		{"statestore", p.ComponentOutbound("statestore", Statestore), "DefaultStatestoreComponentOutboundRetryPolicy", 7 * time.Second},
		{"secretstore", p.ComponentOutbound("vault", Secretstore), "DefaultComponentRetryPolicy", 3 * time.Second},
		// A component with a target uses only its named policies.
		{"named component", p.ComponentOutbound("actorstore", Statestore), "named", 0},
		{"named component other direction", p.ComponentInbound("actorstore", Statestore), "", 0},
		{"named actor", p.ActorPreLockPolicy("EventActor", "1"), "named", 0},
		{"other actor", p.ActorPreLockPolicy("SummaryActor", "1"), "DefaultActorRetryPolicy", 0},
		{"other actor after lock", p.ActorPostLockPolicy("SummaryActor", "1"), "", 7 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if tt.pol.retry != nil {
				got = tt.pol.retry.name
			}
			if got != tt.retry {
				t.Errorf("retry = %q, want %q", got, tt.retry)
			}
			if tt.pol.Timeout() != tt.timeout {
				t.Errorf("timeout = %v, want %v", tt.pol.Timeout(), tt.timeout)
			}
		})
	}
}

func TestBuiltInRetries(t *testing.T) {
	var nilProvider *Provider
	pol, overridden := nilProvider.BuiltIn(BuiltInServiceRetries)
	if overridden || pol.retry.maxRetries != 3 || pol.retry.interval != time.Second {
		t.Fatalf("default service retries = %+v overridden=%v", pol.retry, overridden)
	}

	p := newProvider(t, nil, res("r", resources.Policies{Retries: map[string]resources.RetryPolicy{
		BuiltInServiceRetries:       {Duration: "5s", MaxRetries: intp(10)},
		BuiltInActorRetries:         {Duration: "2s", MaxRetries: intp(1)}, // below the floor
		BuiltInActorNotFoundRetries: {Duration: "9s", MaxRetries: intp(50)},
	}}, resources.Targets{}))
	tests := []struct {
		name       string
		overridden bool
		retries    int
		interval   time.Duration
	}{
		{BuiltInServiceRetries, true, 10, 5 * time.Second},
		{BuiltInActorRetries, true, 3, 2 * time.Second},
		{BuiltInActorNotFoundRetries, false, 5, time.Second}, // protected
		{BuiltInInitializationRetries, false, 3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol, overridden := p.BuiltIn(tt.name)
			if overridden != tt.overridden || pol.retry.maxRetries != tt.retries || pol.retry.interval != tt.interval {
				t.Errorf("got %+v overridden=%v", pol.retry, overridden)
			}
		})
	}
}

func TestActorBreakerScopes(t *testing.T) {
	cb := map[string]resources.CircuitBreakerPolicy{"cb": {Trip: "consecutiveFailures >= 1", Timeout: "1h"}}
	p := newProvider(t, nil, res("r", resources.Policies{CircuitBreakers: cb}, resources.Targets{Actors: map[string]resources.ActorPolicyNames{
		"ByType": {CircuitBreaker: "cb", CircuitBreakerScope: "type"},
		"ByID":   {CircuitBreaker: "cb", CircuitBreakerScope: "id", CircuitBreakerCacheSize: 2},
	}}))
	fail := func(ctx context.Context) error { return context.Canceled }
	ctx := context.Background()

	_ = p.ActorPreLockPolicy("ByType", "a").Run(ctx, fail)
	if err := p.ActorPreLockPolicy("ByType", "b").Run(ctx, fail); err != ErrCircuitOpen {
		t.Errorf("type scope: another id got %v, want the shared breaker open", err)
	}

	_ = p.ActorPreLockPolicy("ByID", "a").Run(ctx, fail)
	if err := p.ActorPreLockPolicy("ByID", "a").Run(ctx, fail); err != ErrCircuitOpen {
		t.Errorf("id scope: same id got %v, want open", err)
	}
	if err := p.ActorPreLockPolicy("ByID", "b").Run(ctx, fail); err == ErrCircuitOpen {
		t.Error("id scope: another id's breaker is open")
	}
	_ = p.ActorPreLockPolicy("ByID", "c").Run(ctx, fail)
	if n := p.actors["ByID"].breakers.len(); n > 2 {
		t.Errorf("%d breakers live, want at most circuitBreakerCacheSize 2", n)
	}
}
