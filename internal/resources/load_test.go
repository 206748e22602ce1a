package resources

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func componentNames(set *Set) []string {
	var out []string
	for _, c := range set.Components {
		out = append(out, c.Metadata.Name)
	}
	return out
}

func component(name, typ, extra string) string {
	return "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: " + name +
		"\n" + extra + "spec:\n  type: " + typ + "\n"
}

func TestLoadMultiDocumentFiles(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"a.yaml": "---\n" + component("one", "state.redis", "") + "---\n# only a comment\n---\n" +
			component("two", "pubsub.redis", "") + "--- \n" + component("three", "bindings.cron", ""),
		"b.yml":           component("four", "lock.redis", ""),
		"c.txt":           component("ignored-ext", "state.redis", ""),
		"sub/d.yaml":      component("ignored-subdir", "state.redis", ""),
		"crlf.yaml":       "apiVersion: dapr.io/v1alpha1\r\nkind: Component\r\nmetadata:\r\n  name: five\r\nspec:\r\n  type: crypto.jwks\r\n",
		"empty.yaml":      "",
		"commented.yaml":  "# nothing here\n",
		"foreign.yaml":    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n---\napiVersion: apps/v1\nkind: Deployment\n---\napiVersion: serving.knative.dev/v1\nkind: Configuration\n---\nservices:\n  web: {}\n",
		"zz-another.yaml": component("six", "middleware.http.bearer", ""),
	})
	set := mustLoad(t, LoadOptions{ResourcesPaths: []string{dir}, AppID: "app"})
	got := componentNames(set)
	want := []string{"one", "two", "three", "four", "five", "six"}
	if !slices.Equal(got, want) {
		t.Fatalf("components = %v, want %v", got, want)
	}
	three := set.Components[2]
	if three.Source.File != filepath.Join(dir, "a.yaml") || three.Source.Document != 3 {
		t.Errorf("source of three = %+v, want a.yaml document 3", three.Source)
	}
}

func TestLoadPathsInOrderAndSingleFile(t *testing.T) {
	d1 := writeDir(t, map[string]string{"x.yaml": component("first", "state.in-memory", "")})
	d2 := writeDir(t, map[string]string{"y.yaml": component("second", "state.redis", "")})
	file := filepath.Join(d2, "y.yaml")
	set := mustLoad(t, LoadOptions{ResourcesPaths: []string{d2 + "/../" + filepath.Base(d2), d1}})
	if got := componentNames(set); !slices.Equal(got, []string{"second", "first"}) {
		t.Errorf("directories: %v", got)
	}
	set = mustLoad(t, LoadOptions{ResourcesPaths: []string{file}})
	if got := componentNames(set); !slices.Equal(got, []string{"second"}) {
		t.Errorf("single file: %v", got)
	}
}

func TestLoadScopesAndNamespaces(t *testing.T) {
	files := map[string]string{
		"a.yaml": component("unscoped", "state.a", "") +
			"---\n" + component("mine", "state.b", "") + "scopes: [other, app1]\n" +
			"---\n" + component("theirs", "state.c", "") + "scopes: [other]\n" +
			"---\n" + component("ns-match", "state.d", "  namespace: prod\n") +
			"---\n" + component("ns-other", "state.e", "  namespace: dev\n") +
			"---\n" + component("ns-other-scoped", "state.f", "  namespace: dev\n") + "scopes: [app1]\n",
		"sub.yaml": `apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata: {name: s1}
spec: {pubsubname: p, topic: t, routes: {default: /t}}
scopes: [app2]
---
apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata: {name: s2}
spec: {pubsubname: p, topic: t, routes: {default: /t}}
scopes: [app1]
`,
		"ep.yaml": `apiVersion: dapr.io/v1alpha1
kind: HTTPEndpoint
metadata: {name: gh, namespace: dev}
spec: {baseUrl: "https://api.github.com"}
`,
		"res.yaml": `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata: {name: r}
scopes: [app2]
spec: {}
`,
	}
	dir := writeDir(t, files)
	tests := []struct {
		name, ns       string
		components     []string
		subs           []string
		endpoints, res int
	}{
		{"no namespace set", "", []string{"unscoped", "mine", "ns-match", "ns-other", "ns-other-scoped"}, []string{"s2"}, 1, 0},
		{"namespace prod", "prod", []string{"unscoped", "mine", "ns-match"}, []string{"s2"}, 0, 0},
		{"namespace dev", "dev", []string{"unscoped", "mine", "ns-other", "ns-other-scoped"}, []string{"s2"}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := mustLoad(t, LoadOptions{ResourcesPaths: []string{dir}, AppID: "app1", Namespace: tt.ns})
			if got := componentNames(set); !slices.Equal(got, tt.components) {
				t.Errorf("components = %v, want %v", got, tt.components)
			}
			var subs []string
			for _, s := range set.Subscriptions {
				subs = append(subs, s.Metadata.Name)
			}
			if !slices.Equal(subs, tt.subs) {
				t.Errorf("subscriptions = %v, want %v", subs, tt.subs)
			}
			if len(set.HTTPEndpoints) != tt.endpoints || len(set.Resiliencies) != tt.res {
				t.Errorf("endpoints=%d resiliencies=%d, want %d and %d",
					len(set.HTTPEndpoints), len(set.Resiliencies), tt.endpoints, tt.res)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	const v1 = "apiVersion: dapr.io/v1alpha1\n"
	tests := []struct {
		name    string
		content string
		want    []string // fragments after "<file>: "
	}{
		{"unknown category", redisComponent + "---\n" + component("s2", "stat.redis", ""),
			[]string{`document 2: spec.type: "stat.redis" has no known category (want one of state., pubsub., bindings., secretstores., configuration., lock., middleware., crypto., conversation., workflow., workflowbackend.)`}},
		{"nameresolution is not a component", component("nr", "nameresolution.mdns", ""),
			[]string{`document 1: spec.type: "nameresolution.mdns" has no known category`}},
		{"missing type", v1 + "kind: Component\nmetadata: {name: x}\nspec: {}\n",
			[]string{"document 1: spec.type: required"}},
		{"category only", component("x", "state.", ""),
			[]string{`document 1: spec.type: "state." names no component after the category`}},
		{"name with slash", component("a/b", "state.redis", ""),
			[]string{`document 1: metadata.name: "a/b" is not a valid name`}},
		{"name with percent", component("a%20", "state.redis", ""),
			[]string{`document 1: metadata.name: "a%20" is not a valid name`}},
		{"name dot dot", component(`".."`, "state.redis", ""),
			[]string{`document 1: metadata.name: ".." is not a valid name`}},
		{"missing name", v1 + "kind: Component\nspec: {type: state.redis}\n",
			[]string{"document 1: metadata.name: required"}},
		{"unknown apiVersion", "apiVersion: dapr.io/v1\nkind: Component\nmetadata: {name: x}\nspec: {type: state.redis}\n",
			[]string{`document 1: apiVersion: "dapr.io/v1" is not supported for kind Component (want dapr.io/v1alpha1)`}},
		{"missing apiVersion", "kind: Component\nmetadata: {name: x}\nspec: {type: state.redis}\n",
			[]string{"document 1: apiVersion: required for kind Component (want dapr.io/v1alpha1)"}},
		{"subscription v3", "apiVersion: dapr.io/v3alpha1\nkind: Subscription\n",
			[]string{`document 1: apiVersion: "dapr.io/v3alpha1" is not supported for kind Subscription (want dapr.io/v1alpha1 or dapr.io/v2alpha1)`}},
		{"unknown dapr kind", v1 + "kind: Compnent\nmetadata: {name: x}\n",
			[]string{`document 1: kind: "Compnent" is not a known Dapr resource kind (want one of Component, Configuration, HTTPEndpoint, MCPServer, Resiliency, Subscription, WorkflowAccessPolicy)`}},
		{"missing kind", v1 + "metadata: {name: x}\n",
			[]string{"document 1: kind: required"}},
		{"kind not a string", v1 + "kind: [Component]\n",
			[]string{"document 1: kind: want a string, got a list"}},
		{"document not a mapping", "- a\n- b\n",
			[]string{"document 1: want a mapping with apiVersion and kind, got a list"}},
		{"yaml syntax", redisComponent + "---\nkind: Component\nmetadata:\n\tname: x\n",
			[]string{"document 2: yaml: line 14: found character that cannot start any token"}},
		{"type mismatches all reported", v1 + "kind: Component\nmetadata: {name: x}\nspec:\n  type: state.redis\n  ignoreErrors: maybe\n  metadata:\n  - name: a\n  - name: [b]\n",
			[]string{
				`document 1: spec.ignoreErrors: want a boolean (true or false), got the string "maybe"`,
				"document 1: spec.metadata[1].name: want a string, got a list",
			}},
		{"metadata item without name", component("x", "state.redis", "") + "  metadata:\n  - value: 1\n",
			[]string{"document 1: spec.metadata[0].name: required"}},
		{"secretKeyRef without name", component("x", "state.redis", "") + "  metadata:\n  - name: p\n    secretKeyRef: {key: k}\n",
			[]string{"document 1: spec.metadata[0].secretKeyRef.name: required when secretKeyRef.key is set"}},
		{"duplicate component", redisComponent + "---\n" + redisComponent,
			[]string{`document 2: metadata.name: duplicate state component "statestore" (first defined in `}},
		{"subscription v2 without routes", "apiVersion: dapr.io/v2alpha1\nkind: Subscription\nmetadata: {name: s}\nspec: {pubsubname: p, topic: t}\n",
			[]string{"document 1: spec.routes: needs a default path or at least one rule"}},
		{"subscription v2 rule without path", "apiVersion: dapr.io/v2alpha1\nkind: Subscription\nmetadata: {name: s}\nspec: {pubsubname: p, topic: t, routes: {rules: [{match: 'true'}]}}\n",
			[]string{"document 1: spec.routes.rules[0].path: required"}},
		{"subscription v1 missing fields", v1 + "kind: Subscription\nmetadata: {name: s}\nspec: {}\n",
			[]string{"document 1: spec.pubsubname: required", "document 1: spec.topic: required", "document 1: spec.route: required"}},
		{"subscription metadata object", "apiVersion: dapr.io/v2alpha1\nkind: Subscription\nmetadata: {name: s}\nspec: {pubsubname: p, topic: t, routes: {default: /x}, metadata: {a: {b: c}}}\n",
			[]string{"document 1: spec.metadata.a: want a string, got a mapping"}},
		{"endpoint without baseUrl", v1 + "kind: HTTPEndpoint\nmetadata: {name: e}\nspec: {}\n",
			[]string{"document 1: spec.baseUrl: required"}},
		{"endpoint bad baseUrl and renegotiation", v1 + "kind: HTTPEndpoint\nmetadata: {name: e}\nspec: {baseUrl: 'localhost:3000', clientTLS: {renegotiation: Always}}\n",
			[]string{`document 1: spec.baseUrl: "localhost:3000" is not an http:// or https:// URL`,
				`document 1: spec.clientTLS.renegotiation: "Always" is not valid`}},
		{"duplicate endpoint", v1 + "kind: HTTPEndpoint\nmetadata: {name: e}\nspec: {baseUrl: 'http://a'}\n---\n" + v1 + "kind: HTTPEndpoint\nmetadata: {name: e}\nspec: {baseUrl: 'http://b'}\n",
			[]string{`document 2: metadata.name: duplicate HTTPEndpoint "e"`}},
		{"other kind with bad name", v1 + "kind: MCPServer\nmetadata: {name: 'a/b'}\n",
			[]string{`document 1: metadata.name: "a/b" is not a valid name`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDir(t, map[string]string{"res.yaml": tt.content})
			set, err := load(t, LoadOptions{ResourcesPaths: []string{dir}, AppID: "app"})
			if set != nil {
				t.Errorf("got a set with an error")
			}
			prefix := filepath.Join(dir, "res.yaml") + ": "
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = prefix + w
			}
			requireErrors(t, err, want...)
		})
	}
}

func TestLoadCollectsErrorsAcrossFiles(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"a.yaml": component("a", "stat.redis", ""),
		"b.yaml": component("b", "pubsub.redis", ""),
		"c.yaml": component("c", "", ""),
	})
	_, err := load(t, LoadOptions{ResourcesPaths: []string{dir, filepath.Join(dir, "missing")}})
	requireErrors(t, err,
		filepath.Join(dir, "a.yaml")+`: document 1: spec.type: "stat.redis" has no known category`,
		filepath.Join(dir, "c.yaml")+": document 1: spec.type: required",
		filepath.Join(dir, "missing")+": cannot read resources path: no such file or directory",
	)
}

func TestLoadDuplicatesAcrossCategoriesAndScopes(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"a.yaml": component("same", "state.redis", "") + "---\n" + component("same", "pubsub.redis", "") +
			"---\n" + component("dup", "state.redis", "") + "scopes: [other]\n---\n" + component("dup", "state.postgres", ""),
	})
	set := mustLoad(t, LoadOptions{ResourcesPaths: []string{dir}, AppID: "app"})
	if got := componentNames(set); !slices.Equal(got, []string{"same", "same", "dup"}) {
		t.Errorf("components = %v", got)
	}
}

func TestLoadCoercesScalarsToStrings(t *testing.T) {
	dir := writeDir(t, map[string]string{"a.yaml": `apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: 123}
spec:
  type: state.redis
  version: 1
  initTimeout: 10
  metadata:
  - name: 42
    value: 7
---
apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata: {name: s}
spec:
  pubsubname: p
  topic: 2024
  routes: {default: /d}
  metadata: {rawPayload: true, maxCount: 10}
  bulkSubscribe: {enabled: true, maxMessagesCount: 5}
`})
	set := mustLoad(t, LoadOptions{ResourcesPaths: []string{dir}})
	c := set.Components[0]
	if c.Metadata.Name != "123" || c.Spec.Version != "1" || c.Spec.Metadata[0].Name != "42" || c.Spec.InitTimeout != "10" {
		t.Errorf("component = %+v", c)
	}
	s := set.Subscriptions[0]
	if s.Spec.Topic != "2024" || s.Spec.Metadata["rawPayload"] != "true" || s.Spec.Metadata["maxCount"] != "10" {
		t.Errorf("subscription spec = %+v", s.Spec)
	}
	if !s.Spec.BulkSubscribe.Enabled || s.Spec.BulkSubscribe.MaxMessagesCount != 5 {
		t.Errorf("bulkSubscribe = %+v", s.Spec.BulkSubscribe)
	}
}

func TestLoadSubscriptionV1ToV2(t *testing.T) {
	dir := writeDir(t, map[string]string{"s.yaml": `apiVersion: dapr.io/v1alpha1
kind: Subscription
metadata: {name: old}
spec:
  pubsubname: pubsub
  topic: orders
  route: /orders
  deadLetterTopic: dlq
  metadata: {rawPayload: "true"}
  bulkSubscribe: {enabled: true, maxMessagesCount: 100, maxAwaitDurationMs: 1000}
scopes: [app]
---
apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata: {name: new}
spec:
  pubsubname: pubsub
  topic: items
  routes:
    rules:
    - match: event.type == "a"
      path: /a
    default: /items
`})
	set := mustLoad(t, LoadOptions{ResourcesPaths: []string{dir}, AppID: "app"})
	if len(set.Subscriptions) != 2 {
		t.Fatalf("got %d subscriptions", len(set.Subscriptions))
	}
	old := set.Subscriptions[0]
	want := SubscriptionSpec{
		PubsubName: "pubsub", Topic: "orders", Routes: Routes{Default: "/orders"},
		Metadata: map[string]string{"rawPayload": "true"}, DeadLetterTopic: "dlq",
		BulkSubscribe: BulkSubscribe{Enabled: true, MaxMessagesCount: 100, MaxAwaitDurationMs: 1000},
	}
	if old.APIVersion != "dapr.io/v1alpha1" || old.Spec.Routes.Default != want.Routes.Default ||
		old.Spec.DeadLetterTopic != want.DeadLetterTopic || old.Spec.BulkSubscribe != want.BulkSubscribe ||
		old.Spec.Metadata["rawPayload"] != "true" || len(old.Spec.Routes.Rules) != 0 || !slices.Equal(old.Scopes, []string{"app"}) {
		t.Errorf("v1 converted = %+v, want spec %+v", old, want)
	}
	n := set.Subscriptions[1]
	if n.Spec.Routes.Default != "/items" || len(n.Spec.Routes.Rules) != 1 ||
		n.Spec.Routes.Rules[0] != (Rule{Match: `event.type == "a"`, Path: "/a"}) {
		t.Errorf("v2 routes = %+v", n.Spec.Routes)
	}
}

func TestLoadResiliency(t *testing.T) {
	good := `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata: {name: r}
spec:
  policies:
    timeouts:
      general: 5s
      quick: 500
    retries:
      pubsubRetry: {policy: constant, duration: 5s, maxRetries: 10}
      retryForever: {policy: exponential, maxInterval: 15s, maxRetries: -1}
      retry5xx:
        policy: constant
        duration: 1s
        matching: {httpStatusCodes: "500-599,429", gRPCStatusCodes: "1-4,8-14"}
    circuitBreakers:
      simpleCB: {maxRequests: 1, interval: 8s, timeout: 45s, trip: consecutiveFailures >= 5}
  targets:
    apps:
      appB: {timeout: general, retry: retryForever, circuitBreaker: simpleCB, circuitBreakerCacheSize: 100}
    actors:
      myActor: {timeout: general, circuitBreaker: simpleCB, circuitBreakerScope: both}
    components:
      statestore:
        outbound: {timeout: general, retry: retryForever}
      pubsub:
        inbound: {retry: pubsubRetry}
`
	dir := writeDir(t, map[string]string{"r.yaml": good})
	set := mustLoad(t, LoadOptions{ResourcesPaths: []string{dir}})
	if len(set.Resiliencies) != 1 {
		t.Fatalf("got %d resiliencies", len(set.Resiliencies))
	}
	r := set.Resiliencies[0].Spec
	if d, _ := r.Policies.Timeouts["quick"].Parse(); d.Milliseconds() != 500 {
		t.Errorf("quick timeout = %v", d)
	}
	if d, _ := r.Policies.Timeouts["general"].Parse(); d.Seconds() != 5 {
		t.Errorf("general timeout = %v", d)
	}
	if p := r.Policies.Retries["retryForever"]; p.Policy != "exponential" || *p.MaxRetries != -1 || p.MaxInterval != "15s" {
		t.Errorf("retryForever = %+v", p)
	}
	if m := r.Policies.Retries["retry5xx"].Matching; m == nil || m.HTTPStatusCodes != "500-599,429" {
		t.Errorf("matching = %+v", m)
	}
	if cb := r.Policies.CircuitBreakers["simpleCB"]; cb.MaxRequests != 1 || cb.Trip != "consecutiveFailures >= 5" {
		t.Errorf("simpleCB = %+v", cb)
	}
	if a := r.Targets.Apps["appB"]; a.CircuitBreakerCacheSize != 100 || a.Retry != "retryForever" {
		t.Errorf("apps.appB = %+v", a)
	}
	if c := r.Targets.Components["pubsub"]; c.Inbound.Retry != "pubsubRetry" {
		t.Errorf("components.pubsub = %+v", c)
	}

	bad := `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata: {name: r}
spec:
  policies:
    timeouts: {general: soon}
    retries:
      r1: {policy: linear, duration: -1s, maxRetries: -2}
      r2: {matching: {httpStatusCodes: "500-600", gRPCStatusCodes: "x"}}
    circuitBreakers:
      cb: {timeout: true}
  targets:
    actors:
      a1: {circuitBreaker: cb}
`
	dir = writeDir(t, map[string]string{"r.yaml": bad})
	_, err := load(t, LoadOptions{ResourcesPaths: []string{dir}})
	p := filepath.Join(dir, "r.yaml") + ": document 1: "
	requireErrors(t, err, p+"spec.policies.circuitBreakers.cb.timeout: want a duration, got true")

	bad = bad[:len(bad)-len("      cb: {timeout: true}\n  targets:\n    actors:\n      a1: {circuitBreaker: cb}\n")] +
		"      cb: {timeout: 1m}\n  targets:\n    actors:\n      a1: {circuitBreaker: cb}\n"
	if err := os.WriteFile(filepath.Join(dir, "r.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = load(t, LoadOptions{ResourcesPaths: []string{dir}})
	requireErrors(t, err,
		p+`spec.policies.timeouts.general: "soon" is not a duration`,
		p+`spec.policies.retries.r1.duration: "-1s" must not be negative`,
		p+`spec.policies.retries.r1.policy: "linear" is not valid (want constant or exponential)`,
		p+"spec.policies.retries.r1.maxRetries: -2 is not valid",
		p+`spec.policies.retries.r2.matching.httpStatusCodes: "500-600" is not a code or range between 100 and 599`,
		p+`spec.policies.retries.r2.matching.gRPCStatusCodes: "x" is not a code or range between 0 and 16`,
		p+"spec.targets.actors.a1.circuitBreakerScope: required when circuitBreaker is set",
	)
}

func TestLoadHTTPEndpointAndOthers(t *testing.T) {
	dir := writeDir(t, map[string]string{"e.yaml": `apiVersion: dapr.io/v1alpha1
kind: HTTPEndpoint
metadata: {name: github}
spec:
  baseUrl: https://api.github.com
  headers:
  - name: Accept-Language
    value: en-US
  - name: Authorization
    secretKeyRef: {name: gh-token, key: token}
  clientTLS:
    rootCA: {value: "PEM"}
    certificate: {secretKeyRef: {name: s, key: crt}}
    renegotiation: OnceAsClient
auth: {secretStore: my-secrets}
---
apiVersion: dapr.io/v1alpha1
kind: MCPServer
metadata: {name: tools}
spec: {endpoint: {stdio: {command: x}}}
---
apiVersion: dapr.io/v1alpha1
kind: WorkflowAccessPolicy
metadata: {name: wap}
scopes: [someone-else]
---
apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata: {name: misplaced}
`})
	set := mustLoad(t, LoadOptions{ResourcesPaths: []string{dir}, AppID: "app"})
	if len(set.HTTPEndpoints) != 1 {
		t.Fatalf("got %d endpoints", len(set.HTTPEndpoints))
	}
	e := set.HTTPEndpoints[0]
	if e.Spec.BaseURL != "https://api.github.com" || len(e.Spec.Headers) != 2 || e.Auth.SecretStore != "my-secrets" ||
		e.Spec.ClientTLS.RootCA.Value.String() != "PEM" || e.Spec.ClientTLS.Certificate.SecretKeyRef.Key != "crt" {
		t.Errorf("endpoint = %+v", e)
	}
	want := []Other{
		{Kind: "MCPServer", Name: "tools", Source: Source{File: filepath.Join(dir, "e.yaml"), Document: 2}},
		{Kind: "Configuration", Name: "misplaced", Source: Source{File: filepath.Join(dir, "e.yaml"), Document: 4}},
	}
	if !slices.Equal(set.Others, want) {
		t.Errorf("others = %+v, want %+v", set.Others, want)
	}
}

func TestLoadCancelled(t *testing.T) {
	dir := writeDir(t, map[string]string{"a.yaml": redisComponent})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Load(ctx, LoadOptions{ResourcesPaths: []string{dir}, Logger: quietLogger()}); err != context.Canceled {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestSplitDocuments(t *testing.T) {
	chunks := splitDocuments([]byte("a: 1\n---\nb: 2\n--- # c\nc: 3\n----\n"))
	var lines []int
	var texts []string
	for _, c := range chunks {
		lines = append(lines, c.line)
		texts = append(texts, string(c.text))
	}
	if !slices.Equal(lines, []int{1, 2, 4, 6}) {
		t.Errorf("lines = %v", lines)
	}
	if !slices.Equal(texts, []string{"a: 1\n", "\nb: 2\n", " # c\nc: 3\n", "-\n"}) {
		t.Errorf("texts = %q", texts)
	}
}

func TestLoadWarnsAboutUnknownFields(t *testing.T) {
	dir := writeDir(t, map[string]string{"a.yaml": component("x", "state.redis", "") +
		"  metdata: []\n  metadata:\n  - name: a\n    valeu: b\nscope: [other]\n"})
	var buf bytes.Buffer
	set, err := Load(context.Background(), LoadOptions{ResourcesPaths: []string{dir}, AppID: "app",
		Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Components) != 1 {
		t.Errorf("the component should still load (Dapr ignores unknown fields)")
	}
	for _, f := range []string{"field=scope", "field=spec.metdata", "field=spec.metadata[0].valeu"} {
		if !strings.Contains(buf.String(), f) {
			t.Errorf("log lacks %s:\n%s", f, buf.String())
		}
	}
}
