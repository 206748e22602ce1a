package resources

// Configuration is a `kind: Configuration`, read from --config files.
type Configuration struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   ObjectMeta        `json:"metadata"`
	Spec       ConfigurationSpec `json:"spec"`
}

// ConfigurationSpec is the spec of a Configuration. `metric` and `metrics`
// are both accepted; use Configuration.MetricsSpec to read the result.
type ConfigurationSpec struct {
	Tracing         TracingSpec        `json:"tracing,omitzero"`
	Metric          MetricSpec         `json:"metric,omitzero"`
	Metrics         *MetricSpec        `json:"metrics,omitempty"`
	MTLS            MTLSSpec           `json:"mtls,omitzero"`
	Secrets         SecretsSpec        `json:"secrets,omitzero"`
	AccessControl   AccessControlSpec  `json:"accessControl,omitzero"`
	NameResolution  NameResolutionSpec `json:"nameResolution,omitzero"`
	Features        []FeatureSpec      `json:"features,omitempty"`
	API             APISpec            `json:"api,omitzero"`
	Components      ComponentsSpec     `json:"components,omitzero"`
	Logging         LoggingSpec        `json:"logging,omitzero"`
	HTTPPipeline    PipelineSpec       `json:"httpPipeline,omitzero"`
	AppHTTPPipeline PipelineSpec       `json:"appHttpPipeline,omitzero"`
	Wasm            WasmSpec           `json:"wasm,omitzero"`
	Workflow        WorkflowSpec       `json:"workflow,omitzero"`
}

// TracingSpec configures distributed tracing.
type TracingSpec struct {
	SamplingRate string     `json:"samplingRate,omitempty"` // "" means DefaultSamplingRate
	Stdout       bool       `json:"stdout,omitempty"`
	Zipkin       ZipkinSpec `json:"zipkin,omitzero"`
	Otel         OtelSpec   `json:"otel,omitzero"`
}

// ZipkinSpec configures the Zipkin exporter.
type ZipkinSpec struct {
	EndpointAddress string `json:"endpointAddress,omitempty"`
}

// OtelSpec configures the OTLP exporter.
type OtelSpec struct {
	EndpointAddress string      `json:"endpointAddress,omitempty"`
	Protocol        string      `json:"protocol,omitempty"` // grpc | http
	IsSecure        *bool       `json:"isSecure,omitempty"` // default true
	Headers         OtelHeaders `json:"headers,omitempty"`
	Timeout         Duration    `json:"timeout,omitempty"` // integer = milliseconds
}

// MetricSpec configures metrics.
type MetricSpec struct {
	Enabled                    *bool         `json:"enabled,omitempty"` // default true
	RecordErrorCodes           *bool         `json:"recordErrorCodes,omitempty"`
	HTTP                       *MetricHTTP   `json:"http,omitempty"`
	Rules                      []MetricsRule `json:"rules,omitempty"`
	LatencyDistributionBuckets []int         `json:"latencyDistributionBuckets,omitempty"`
}

// MetricHTTP configures HTTP server metrics.
type MetricHTTP struct {
	IncreasedCardinality *bool    `json:"increasedCardinality,omitempty"`
	PathMatching         []string `json:"pathMatching,omitempty"`
	ExcludeVerbs         *bool    `json:"excludeVerbs,omitempty"`
}

// MetricsRule rewrites label values of one metric.
type MetricsRule struct {
	Name   string        `json:"name"`
	Labels []MetricLabel `json:"labels,omitempty"`
}

// MetricLabel maps regular expressions to replacement label values.
type MetricLabel struct {
	Name  string            `json:"name"`
	Regex map[string]string `json:"regex,omitempty"`
}

// MTLSSpec configures mTLS between sidecars.
type MTLSSpec struct {
	Enabled                 bool            `json:"enabled,omitempty"`
	WorkloadCertTTL         string          `json:"workloadCertTTL,omitempty"`
	AllowedClockSkew        string          `json:"allowedClockSkew,omitempty"`
	SentryAddress           string          `json:"sentryAddress,omitempty"`
	ControlPlaneTrustDomain string          `json:"controlPlaneTrustDomain,omitempty"`
	TokenValidators         []ValidatorSpec `json:"tokenValidators,omitempty"`
}

// ValidatorSpec is an extra token validator for Sentry.
type ValidatorSpec struct {
	Name    string       `json:"name"`
	Options DynamicValue `json:"options,omitzero"`
}

// SecretsSpec restricts access to secret stores.
type SecretsSpec struct {
	Scopes []SecretsScope `json:"scopes,omitempty"`
}

// SecretsScope restricts the keys readable from one secret store.
type SecretsScope struct {
	StoreName      string   `json:"storeName"`
	DefaultAccess  string   `json:"defaultAccess,omitempty"` // allow (default) | deny
	AllowedSecrets []string `json:"allowedSecrets,omitempty"`
	DeniedSecrets  []string `json:"deniedSecrets,omitempty"`
}

// AccessControlSpec is the service-invocation ACL applied by the callee.
type AccessControlSpec struct {
	DefaultAction string          `json:"defaultAction,omitempty"` // allow | deny
	TrustDomain   string          `json:"trustDomain,omitempty"`
	Policies      []AppPolicySpec `json:"policies,omitempty"`
}

// AppPolicySpec is the ACL for one calling app.
type AppPolicySpec struct {
	AppID         string         `json:"appId"`
	DefaultAction string         `json:"defaultAction,omitempty"`
	TrustDomain   string         `json:"trustDomain,omitempty"`
	Namespace     string         `json:"namespace,omitempty"`
	Operations    []AppOperation `json:"operations,omitempty"`
}

// AppOperation allows or denies one path prefix and verbs.
type AppOperation struct {
	Name     string   `json:"name"`
	HTTPVerb []string `json:"httpVerb,omitempty"`
	Action   string   `json:"action"`
}

// NameResolutionSpec selects and configures the name resolver.
type NameResolutionSpec struct {
	Component     string       `json:"component,omitempty"`
	Version       string       `json:"version,omitempty"`
	Configuration DynamicValue `json:"configuration,omitzero"` // free-form
}

// FeatureSpec turns a preview feature on or off.
type FeatureSpec struct {
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
}

// APISpec allow- and deny-lists Dapr APIs.
type APISpec struct {
	Allowed []APIAccessRule `json:"allowed,omitempty"`
	Denied  []APIAccessRule `json:"denied,omitempty"`
}

// APIAccessRule names one API, e.g. {name: state, version: v1.0, protocol: http}.
type APIAccessRule struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Protocol string `json:"protocol,omitempty"` // http | grpc
}

// ComponentsSpec lists component types that must not be loaded.
type ComponentsSpec struct {
	Deny []string `json:"deny,omitempty"` // type or type/version
}

// LoggingSpec configures logging.
type LoggingSpec struct {
	APILogging APILoggingSpec `json:"apiLogging,omitzero"`
}

// APILoggingSpec configures API request logging.
type APILoggingSpec struct {
	Enabled          bool `json:"enabled,omitempty"`
	ObfuscateURLs    bool `json:"obfuscateURLs,omitempty"`
	OmitHealthChecks bool `json:"omitHealthChecks,omitempty"`
}

// PipelineSpec is an ordered list of HTTP middleware.
type PipelineSpec struct {
	Handlers []HandlerSpec `json:"handlers,omitempty"`
}

// HandlerSpec references a middleware component.
type HandlerSpec struct {
	Name     string       `json:"name"`
	Type     string       `json:"type"`
	Version  string       `json:"version,omitempty"`
	Selector SelectorSpec `json:"selector,omitzero"`
}

// SelectorSpec limits a handler to matching requests.
type SelectorSpec struct {
	Fields []SelectorField `json:"fields,omitempty"`
}

// SelectorField is one field/value condition.
type SelectorField struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

// WasmSpec configures WASM components.
type WasmSpec struct {
	StrictSandbox bool `json:"strictSandbox,omitempty"`
}

// WorkflowSpec configures the workflow engine.
type WorkflowSpec struct {
	MaxConcurrentWorkflowInvocations       int32                 `json:"maxConcurrentWorkflowInvocations,omitempty"`
	MaxConcurrentActivityInvocations       int32                 `json:"maxConcurrentActivityInvocations,omitempty"`
	GlobalMaxConcurrentWorkflowInvocations int32                 `json:"globalMaxConcurrentWorkflowInvocations,omitempty"`
	GlobalMaxConcurrentActivityInvocations int32                 `json:"globalMaxConcurrentActivityInvocations,omitempty"`
	WorkflowConcurrencyLimits              []ConcurrencyLimit    `json:"workflowConcurrencyLimits,omitempty"`
	ActivityConcurrencyLimits              []ConcurrencyLimit    `json:"activityConcurrencyLimits,omitempty"`
	StateRetentionPolicy                   *StateRetentionPolicy `json:"stateRetentionPolicy,omitempty"`
}

// ConcurrencyLimit caps concurrent executions of one workflow or activity.
type ConcurrencyLimit struct {
	Name          string `json:"name"`
	MaxConcurrent int32  `json:"maxConcurrent"`
}

// StateRetentionPolicy says how long finished workflow state is kept.
type StateRetentionPolicy struct {
	AnyTerminal Duration `json:"anyTerminal,omitempty"`
	Completed   Duration `json:"completed,omitempty"`
	Failed      Duration `json:"failed,omitempty"`
	Terminated  Duration `json:"terminated,omitempty"`
}
