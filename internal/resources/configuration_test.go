package resources

import (
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestLoadConfigurationDefaults(t *testing.T) {
	conf, err := LoadConfiguration(nil)
	if err != nil {
		t.Fatal(err)
	}
	if conf.Spec.Tracing.SamplingRate != "" || conf.SamplingRate() != 0.0001 {
		t.Errorf("sampling rate %q → %v, want \"\" → 0.0001", conf.Spec.Tracing.SamplingRate, conf.SamplingRate())
	}
	if !conf.Spec.Tracing.Otel.Secure() || !conf.MetricsSpec().IsEnabled() {
		t.Error("want otel secure and metrics enabled by default")
	}
	if conf.Spec.AccessControl.DefaultAction != "allow" || conf.Spec.AccessControl.TrustDomain != "public" {
		t.Errorf("accessControl = %+v", conf.Spec.AccessControl)
	}
	for _, f := range []string{"HotReload", "WorkflowsRemoteActivityReminder"} {
		if !conf.FeatureEnabled(f) {
			t.Errorf("%s should default to on", f)
		}
	}
	if conf.FeatureEnabled("ActorStateTTL") {
		t.Error("ActorStateTTL should default to off")
	}
}

const fullConfig = `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: appconfig
spec:
  tracing:
    samplingRate: "1"
    stdout: true
    zipkin: {endpointAddress: "http://localhost:9411/api/v2/spans"}
    otel: {endpointAddress: "localhost:4317", protocol: grpc, isSecure: false, headers: "a=1,b=x%20y", timeout: 2500}
  metric:
    enabled: true
    recordErrorCodes: true
    http: {increasedCardinality: false, pathMatching: ["/orders/{id}"], excludeVerbs: true}
    rules:
    - name: dapr_runtime_service_invocation_req_sent_total
      labels:
      - name: method
        regex: {"orders/": "orders/.+"}
    latencyDistributionBuckets: [1, 5, 10]
  mtls:
    enabled: true
    workloadCertTTL: 24h
    allowedClockSkew: 15m
    sentryAddress: localhost:50001
    controlPlaneTrustDomain: cluster.local
    tokenValidators:
    - name: jwks
      options: {source: "https://example/jwks.json", minRefreshInterval: 60}
  secrets:
    scopes:
    - storeName: vault
      defaultAccess: deny
      allowedSecrets: [a, b]
    - storeName: local
      deniedSecrets: [c]
  accessControl:
    defaultAction: deny
    trustDomain: public
    policies:
    - appId: app1
      defaultAction: allow
      namespace: default
      operations:
      - {name: /op1, httpVerb: [POST, GET], action: deny}
  nameResolution:
    component: sqlite
    version: v1
    configuration: {connectionString: /tmp/nr.db, updateInterval: 5}
  features:
  - {name: ActorStateTTL, enabled: true}
  - {name: HotReload, enabled: false}
  api:
    allowed: [{name: state, version: v1.0, protocol: http}]
    denied: [{name: invoke, version: v1.0, protocol: grpc}]
  components:
    deny: [state.redis, bindings.smtp/v1]
  logging:
    apiLogging: {enabled: true, obfuscateURLs: true, omitHealthChecks: true}
  httpPipeline:
    handlers:
    - {name: oauth, type: middleware.http.oauth2, selector: {fields: [{field: path, value: /v1.0}]}}
  appHttpPipeline:
    handlers: [{name: upper, type: middleware.http.uppercase, version: v1}]
  wasm: {strictSandbox: true}
  workflow:
    maxConcurrentWorkflowInvocations: 10
    maxConcurrentActivityInvocations: 20
    globalMaxConcurrentWorkflowInvocations: 100
    globalMaxConcurrentActivityInvocations: 200
    workflowConcurrencyLimits: [{name: wf, maxConcurrent: 2}]
    activityConcurrencyLimits: [{name: act, maxConcurrent: 3}]
    stateRetentionPolicy: {anyTerminal: 24h, completed: 1h, failed: 48h, terminated: 30m}
`

func TestLoadConfigurationFullSpec(t *testing.T) {
	dir := writeDir(t, map[string]string{"config.yaml": fullConfig})
	conf, err := LoadConfiguration([]string{filepath.Join(dir, "config.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	s := conf.Spec
	if conf.SamplingRate() != 1 || !s.Tracing.Stdout || s.Tracing.Zipkin.EndpointAddress == "" {
		t.Errorf("tracing = %+v", s.Tracing)
	}
	o := s.Tracing.Otel
	if o.Secure() || o.Protocol != "grpc" || o.Headers["a"] != "1" || o.Headers["b"] != "x y" {
		t.Errorf("otel = %+v", o)
	}
	if d, _ := o.Timeout.Parse(); d != 2500*time.Millisecond {
		t.Errorf("otel timeout = %v", d)
	}
	m := conf.MetricsSpec()
	if !m.IsEnabled() || !*m.RecordErrorCodes || *m.HTTP.IncreasedCardinality || !*m.HTTP.ExcludeVerbs ||
		m.Rules[0].Labels[0].Regex["orders/"] != "orders/.+" || !slices.Equal(m.LatencyDistributionBuckets, []int{1, 5, 10}) {
		t.Errorf("metrics = %+v", m)
	}
	if !s.MTLS.Enabled || s.MTLS.WorkloadCertTTL != "24h" || s.MTLS.TokenValidators[0].Options.String() !=
		`{"minRefreshInterval":60,"source":"https://example/jwks.json"}` {
		t.Errorf("mtls = %+v", s.MTLS)
	}
	secretChecks := []struct {
		store, key string
		want       bool
	}{{"vault", "a", true}, {"vault", "z", false}, {"local", "c", false}, {"local", "d", true}, {"other", "x", true}}
	for _, c := range secretChecks {
		if got := conf.SecretAllowed(c.store, c.key); got != c.want {
			t.Errorf("SecretAllowed(%s, %s) = %v, want %v", c.store, c.key, got, c.want)
		}
	}
	ac := s.AccessControl
	if ac.DefaultAction != "deny" || ac.Policies[0].AppID != "app1" || ac.Policies[0].Operations[0].Action != "deny" ||
		!slices.Equal(ac.Policies[0].Operations[0].HTTPVerb, []string{"POST", "GET"}) {
		t.Errorf("accessControl = %+v", ac)
	}
	if s.NameResolution.Component != "sqlite" || s.NameResolution.Configuration.String() != `{"connectionString":"/tmp/nr.db","updateInterval":5}` {
		t.Errorf("nameResolution = %+v", s.NameResolution)
	}
	if !conf.FeatureEnabled("ActorStateTTL") || conf.FeatureEnabled("HotReload") || !conf.FeatureEnabled("WorkflowsRemoteActivityReminder") {
		t.Errorf("features = %+v", s.Features)
	}
	if s.API.Allowed[0] != (APIAccessRule{Name: "state", Version: "v1.0", Protocol: "http"}) || s.API.Denied[0].Protocol != "grpc" {
		t.Errorf("api = %+v", s.API)
	}
	if !slices.Equal(s.Components.Deny, []string{"state.redis", "bindings.smtp/v1"}) {
		t.Errorf("components = %+v", s.Components)
	}
	if !s.Logging.APILogging.Enabled || !s.Logging.APILogging.ObfuscateURLs || !s.Logging.APILogging.OmitHealthChecks {
		t.Errorf("logging = %+v", s.Logging)
	}
	if h := s.HTTPPipeline.Handlers[0]; h.Type != "middleware.http.oauth2" || h.Selector.Fields[0].Value != "/v1.0" {
		t.Errorf("httpPipeline = %+v", s.HTTPPipeline)
	}
	if s.AppHTTPPipeline.Handlers[0].Version != "v1" || !s.Wasm.StrictSandbox {
		t.Errorf("appHttpPipeline/wasm = %+v %+v", s.AppHTTPPipeline, s.Wasm)
	}
	w := s.Workflow
	if w.MaxConcurrentWorkflowInvocations != 10 || w.GlobalMaxConcurrentActivityInvocations != 200 ||
		w.ActivityConcurrencyLimits[0].MaxConcurrent != 3 || w.StateRetentionPolicy.Terminated != "30m" {
		t.Errorf("workflow = %+v", w)
	}
}

func TestLoadConfigurationMergeAndEnv(t *testing.T) {
	t.Setenv("OUTRIGGER_TEST_ZIPKIN", "http://zipkin:9411/api/v2/spans")
	t.Setenv("OUTRIGGER_TEST_RATE", "0.5")
	dir := writeDir(t, map[string]string{
		"base.yaml": `kind: Configuration
spec:
  tracing:
    samplingRate: "${OUTRIGGER_TEST_RATE}"
    zipkin: {endpointAddress: "$OUTRIGGER_TEST_ZIPKIN"}
  features: [{name: A, enabled: true}, {name: B, enabled: true}]
  accessControl: {defaultAction: deny}
`,
		"override.yaml": `kind: Configuration
spec:
  tracing:
    stdout: true
  features: [{name: C, enabled: true}]
  metrics: {enabled: false}
`,
	})
	conf, err := LoadConfiguration([]string{filepath.Join(dir, "base.yaml"), filepath.Join(dir, "override.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	tr := conf.Spec.Tracing
	if tr.SamplingRate != "0.5" || conf.SamplingRate() != 0.5 || tr.Zipkin.EndpointAddress != "http://zipkin:9411/api/v2/spans" || !tr.Stdout {
		t.Errorf("tracing = %+v (env expanded, later file adds stdout)", tr)
	}
	if !tr.Otel.Secure() {
		t.Error("default otel isSecure lost")
	}
	if len(conf.Spec.Features) != 1 || !conf.FeatureEnabled("C") || conf.FeatureEnabled("A") {
		t.Errorf("features = %+v, want the later list to replace the earlier", conf.Spec.Features)
	}
	if conf.Spec.AccessControl.DefaultAction != "deny" || conf.Spec.AccessControl.TrustDomain != "public" {
		t.Errorf("accessControl = %+v", conf.Spec.AccessControl)
	}
	if conf.MetricsSpec().IsEnabled() {
		t.Error("spec.metrics.enabled: false should win over the default metric.enabled")
	}
}

func TestLoadConfigurationErrors(t *testing.T) {
	tests := []struct {
		name, content string
		want          []string
	}{
		{"wrong kind", "kind: Component\n", []string{`kind: "Component" is not a Configuration`}},
		{"missing kind", "spec: {}\n", []string{"kind: required (want Configuration)"}},
		{"yaml syntax", "kind: Configuration\nspec:\n\ttracing: {}\n", []string{"yaml: line 3: found character that cannot start any token"}},
		{"type mismatch", "kind: Configuration\nspec:\n  tracing: {stdout: [x]}\n  features: {name: x}\n",
			[]string{"spec.features: want a list, got a mapping", "spec.tracing.stdout: want a boolean (true or false), got a list"}},
		{"values", `kind: Configuration
spec:
  tracing: {samplingRate: abc, otel: {protocol: udp, timeout: soon}}
  secrets:
    scopes: [{storeName: s, defaultAccess: maybe}, {storeName: s}]
  accessControl:
    defaultAction: block
    policies: [{operations: [{name: /x, action: permit}]}]
  api:
    allowed: [{name: state, protocol: tcp}]
    denied: [{version: v1}]
  httpPipeline:
    handlers: [{name: m, type: middleware.oauth2}]
  workflow:
    stateRetentionPolicy: {completed: forever}
`, []string{
			`spec.tracing.samplingRate: "abc" is not a number between 0 and 1`,
			`spec.tracing.otel.protocol: "udp" is not valid (want grpc or http)`,
			`spec.tracing.otel.timeout: "soon" is not a duration`,
			`spec.secrets.scopes[0].defaultAccess: "maybe" is not valid (want allow or deny)`,
			`spec.secrets.scopes[1].storeName: "s" is listed more than once`,
			`spec.accessControl.defaultAction: "block" is not valid (want allow or deny)`,
			`spec.accessControl.policies[0].appId: required`,
			`spec.accessControl.policies[0].operations[0].action: "permit" is not valid (want allow or deny)`,
			`spec.api.allowed[0].protocol: "tcp" is not valid (want http or grpc)`,
			`spec.api.denied[0].name: required`,
			`spec.httpPipeline.handlers[0].type: "middleware.oauth2" is not an HTTP middleware type (want middleware.http.<name>)`,
			`spec.workflow.stateRetentionPolicy.completed: "forever" is not a duration`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDir(t, map[string]string{"config.yaml": tt.content})
			path := filepath.Join(dir, "config.yaml")
			conf, err := LoadConfiguration([]string{path})
			if conf != nil {
				t.Error("got a configuration with an error")
			}
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = path + ": " + w
			}
			requireErrors(t, err, want...)
		})
	}
}

func TestLoadConfigurationMissingFiles(t *testing.T) {
	dir := writeDir(t, map[string]string{"ok.yaml": "kind: Configuration\n"})
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	_, err := LoadConfiguration([]string{a, filepath.Join(dir, "ok.yaml"), b})
	requireErrors(t, err,
		a+": cannot read configuration file: no such file or directory",
		b+": cannot read configuration file: no such file or directory")
}

func TestOtelHeadersForms(t *testing.T) {
	tests := []struct {
		yaml string
		want map[string]string
	}{
		{`"k1=v1, k2 = v2"`, map[string]string{"k1": "v1", "k2": "v2"}},
		{`[{name: k1, value: v1}]`, map[string]string{"k1": "v1"}},
		{`{k1: v1}`, map[string]string{"k1": "v1"}},
		{`""`, map[string]string{}},
	}
	for _, tt := range tests {
		dir := writeDir(t, map[string]string{"c.yaml": "kind: Configuration\nspec:\n  tracing:\n    otel:\n      headers: " + tt.yaml + "\n"})
		conf, err := LoadConfiguration([]string{filepath.Join(dir, "c.yaml")})
		if err != nil {
			t.Fatalf("%s: %v", tt.yaml, err)
		}
		got := conf.Spec.Tracing.Otel.Headers
		if len(got) != len(tt.want) {
			t.Errorf("%s: headers = %v, want %v", tt.yaml, got, tt.want)
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("%s: headers = %v, want %v", tt.yaml, got, tt.want)
			}
		}
	}
	dir := writeDir(t, map[string]string{"c.yaml": "kind: Configuration\nspec: {tracing: {otel: {headers: novalue}}}\n"})
	_, err := LoadConfiguration([]string{filepath.Join(dir, "c.yaml")})
	if err == nil {
		t.Fatal("want an error for a header without =")
	}
	want := filepath.Join(dir, "c.yaml") + `: spec.tracing.otel.headers: want "k1=v1,k2=v2", a list of {name, value} or a mapping: entry "novalue" is not key=value`
	if err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}
