package resources

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
)

// DefaultSamplingRate is used when spec.tracing.samplingRate is empty.
const DefaultSamplingRate = 0.0001

// DefaultConfiguration returns the configuration daprd uses before reading
// any --config file.
func DefaultConfiguration() *Configuration {
	yes := true
	metricsOn := true
	return &Configuration{
		APIVersion: "dapr.io/v1alpha1",
		Kind:       "Configuration",
		Spec: ConfigurationSpec{
			Tracing:       TracingSpec{Otel: OtelSpec{IsSecure: &yes}},
			Metric:        MetricSpec{Enabled: &metricsOn},
			AccessControl: AccessControlSpec{DefaultAction: "allow", TrustDomain: "public"},
		},
	}
}

// LoadConfiguration reads --config files in order on top of the defaults:
// each file's environment variables are expanded, then it is decoded into
// the same object, so later scalars override earlier ones and later lists
// replace earlier ones. Every problem in every file is reported.
func LoadConfiguration(paths []string) (*Configuration, error) {
	conf := DefaultConfiguration()
	var problems []error
	for _, p := range paths {
		for _, e := range loadConfigFile(p, conf) {
			e.File = p
			problems = append(problems, e)
		}
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return conf, nil
}

// loadConfigFile decodes one file into conf, after checking it on its own
// so errors point at the file that has them.
func loadConfigFile(path string, conf *Configuration) []*Error {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return errs(&Error{Err: fmt.Errorf("cannot read configuration file: %w", err)})
	}
	v, err := parseYAML([]byte(os.ExpandEnv(string(b))), 1)
	if err != nil {
		return errs(&Error{Err: err})
	}
	if v == nil {
		return nil // an empty file changes nothing
	}
	var own Configuration
	unknown, p := decodeValue(v, &own)
	for _, f := range unknown {
		slog.Warn("unknown field in configuration ignored", "file", path, "field", f)
	}
	if p != nil {
		return p
	}
	if p := own.validate(); p != nil {
		return p
	}
	_, p = decodeValue(v, conf)
	return p
}

func (c *Configuration) validate() []*Error {
	var out []*Error
	if c.Kind != "Configuration" {
		if c.Kind == "" {
			out = append(out, fieldErr("kind", "required (want Configuration)"))
		} else {
			out = append(out, fieldErr("kind", "%q is not a Configuration", c.Kind))
		}
	}
	s := &c.Spec
	out = append(out, s.Tracing.validate()...)
	out = append(out, s.Secrets.validate()...)
	out = append(out, s.AccessControl.validate()...)
	out = append(out, checkAPIRules("spec.api.allowed", s.API.Allowed)...)
	out = append(out, checkAPIRules("spec.api.denied", s.API.Denied)...)
	out = append(out, s.HTTPPipeline.validate("spec.httpPipeline")...)
	out = append(out, s.AppHTTPPipeline.validate("spec.appHttpPipeline")...)
	if r := s.Workflow.StateRetentionPolicy; r != nil {
		const p = "spec.workflow.stateRetentionPolicy."
		out = append(out, errs(r.AnyTerminal.check(p+"anyTerminal"), r.Completed.check(p+"completed"),
			r.Failed.check(p+"failed"), r.Terminated.check(p+"terminated"))...)
	}
	return out
}

func (t TracingSpec) validate() []*Error {
	var out []*Error
	if t.SamplingRate != "" {
		if r, err := strconv.ParseFloat(t.SamplingRate, 64); err != nil || r < 0 {
			out = append(out, fieldErr("spec.tracing.samplingRate", "%q is not a number between 0 and 1", t.SamplingRate))
		}
	}
	switch t.Otel.Protocol {
	case "", "grpc", "http":
	default:
		out = append(out, fieldErr("spec.tracing.otel.protocol", "%q is not valid (want grpc or http)", t.Otel.Protocol))
	}
	return append(out, errs(t.Otel.Timeout.check("spec.tracing.otel.timeout"))...)
}

func (s SecretsSpec) validate() []*Error {
	var out []*Error
	seen := map[string]bool{}
	for i, sc := range s.Scopes {
		p := indexPath("spec.secrets.scopes", i)
		if seen[sc.StoreName] {
			out = append(out, fieldErr(p+".storeName", "%q is listed more than once", sc.StoreName))
		}
		seen[sc.StoreName] = true
		out = append(out, errs(checkAction(p+".defaultAccess", sc.DefaultAccess))...)
	}
	return out
}

func (a AccessControlSpec) validate() []*Error {
	out := errs(checkAction("spec.accessControl.defaultAction", a.DefaultAction))
	for i, pol := range a.Policies {
		p := indexPath("spec.accessControl.policies", i)
		out = append(out, errs(requiredString(p+".appId", pol.AppID), checkAction(p+".defaultAction", pol.DefaultAction))...)
		for j, op := range pol.Operations {
			q := indexPath(p+".operations", j)
			out = append(out, errs(requiredString(q+".name", op.Name), checkAction(q+".action", op.Action))...)
		}
	}
	return out
}

// checkAction accepts "", allow or deny, in any case, as Dapr does.
func checkAction(field, v string) *Error {
	if v == "" || strings.EqualFold(v, "allow") || strings.EqualFold(v, "deny") {
		return nil
	}
	return fieldErr(field, "%q is not valid (want allow or deny)", v)
}

func checkAPIRules(path string, rules []APIAccessRule) []*Error {
	var out []*Error
	for i, r := range rules {
		p := indexPath(path, i)
		out = append(out, errs(requiredString(p+".name", r.Name))...)
		switch strings.ToLower(r.Protocol) {
		case "", "http", "grpc":
		default:
			out = append(out, fieldErr(p+".protocol", "%q is not valid (want http or grpc)", r.Protocol))
		}
	}
	return out
}

func (ps PipelineSpec) validate(path string) []*Error {
	var out []*Error
	for i, h := range ps.Handlers {
		p := indexPath(path+".handlers", i)
		out = append(out, errs(requiredString(p+".name", h.Name))...)
		if !strings.HasPrefix(h.Type, "middleware.http.") {
			out = append(out, fieldErr(p+".type", "%q is not an HTTP middleware type (want middleware.http.<name>)", h.Type))
		}
	}
	return out
}

// SamplingRate returns spec.tracing.samplingRate as a number;
// DefaultSamplingRate when empty (0 disables tracing).
func (c *Configuration) SamplingRate() float64 {
	r, err := strconv.ParseFloat(c.Spec.Tracing.SamplingRate, 64)
	if err != nil {
		return DefaultSamplingRate
	}
	return r
}

// Secure reports whether the OTLP connection uses TLS (default true).
func (o OtelSpec) Secure() bool { return o.IsSecure == nil || *o.IsSecure }

// IsEnabled reports whether metrics are on (default true).
func (m MetricSpec) IsEnabled() bool { return m.Enabled == nil || *m.Enabled }

// MetricsSpec returns the effective metrics settings: `metric`, with each
// field given under `metrics` taking precedence.
func (c *Configuration) MetricsSpec() MetricSpec {
	m := c.Spec.Metric
	o := c.Spec.Metrics
	if o == nil {
		return m
	}
	if o.Enabled != nil {
		m.Enabled = o.Enabled
	}
	if o.RecordErrorCodes != nil {
		m.RecordErrorCodes = o.RecordErrorCodes
	}
	if o.HTTP != nil {
		m.HTTP = o.HTTP
	}
	if len(o.Rules) > 0 {
		m.Rules = o.Rules
	}
	if o.LatencyDistributionBuckets != nil {
		m.LatencyDistributionBuckets = o.LatencyDistributionBuckets
	}
	return m
}

// FeatureEnabled reports whether a feature is on: the last entry for it in
// spec.features, else its default (HotReload and
// WorkflowsRemoteActivityReminder default to on).
func (c *Configuration) FeatureEnabled(name string) bool {
	for _, f := range slices.Backward(c.Spec.Features) {
		if f.Name == name {
			return f.Enabled
		}
	}
	switch name {
	case "HotReload", "WorkflowsRemoteActivityReminder":
		return true
	}
	return false
}

// SecretAllowed applies spec.secrets.scopes to a read of key from store:
// an allow-list wins, then a deny-list, then the store's defaultAccess.
// Stores without a scope are unrestricted.
func (c *Configuration) SecretAllowed(store, key string) bool {
	for _, sc := range c.Spec.Secrets.Scopes {
		if sc.StoreName != store {
			continue
		}
		if len(sc.AllowedSecrets) > 0 {
			return slices.Contains(sc.AllowedSecrets, key)
		}
		if slices.Contains(sc.DeniedSecrets, key) {
			return false
		}
		return !strings.EqualFold(sc.DefaultAccess, "deny")
	}
	return true
}

// EnabledFeatures lists the features that are on, defaults included, in a
// stable order: defaults first, then the configured ones as listed.
func (c *Configuration) EnabledFeatures() []string {
	var out []string
	seen := map[string]bool{}
	names := []string{"HotReload", "WorkflowsRemoteActivityReminder"}
	for _, f := range c.Spec.Features {
		names = append(names, f.Name)
	}
	for _, n := range names {
		if !seen[n] && c.FeatureEnabled(n) {
			out = append(out, n)
		}
		seen[n] = true
	}
	return out
}
