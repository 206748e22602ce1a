package resources

import (
	"fmt"
	"strconv"
	"strings"
)

// Resiliency is a `kind: Resiliency`: named policies and the targets they
// apply to.
type Resiliency struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   ObjectMeta     `json:"metadata"`
	Spec       ResiliencySpec `json:"spec"`
	Scopes     []string       `json:"scopes,omitempty"`
	Source     Source         `json:"-"`
}

// ResiliencySpec is the spec of a Resiliency.
type ResiliencySpec struct {
	Policies Policies `json:"policies"`
	Targets  Targets  `json:"targets"`
}

// Policies are the named timeouts, retries and circuit breakers.
type Policies struct {
	Timeouts        map[string]Duration             `json:"timeouts,omitempty"`
	Retries         map[string]RetryPolicy          `json:"retries,omitempty"`
	CircuitBreakers map[string]CircuitBreakerPolicy `json:"circuitBreakers,omitempty"`
}

// RetryPolicy is one named retry policy.
type RetryPolicy struct {
	Policy      string         `json:"policy,omitempty"`      // constant (default) | exponential
	Duration    Duration       `json:"duration,omitempty"`    // constant interval
	MaxInterval Duration       `json:"maxInterval,omitempty"` // exponential cap
	MaxRetries  *int           `json:"maxRetries,omitempty"`  // nil = -1 = forever
	Matching    *RetryMatching `json:"matching,omitempty"`
}

// RetryMatching limits retries to listed status codes (CSV of codes or
// ranges, e.g. "500-599,429").
type RetryMatching struct {
	HTTPStatusCodes string `json:"httpStatusCodes,omitempty"`
	GRPCStatusCodes string `json:"gRPCStatusCodes,omitempty"`
}

// CircuitBreakerPolicy is one named circuit breaker.
type CircuitBreakerPolicy struct {
	MaxRequests int      `json:"maxRequests,omitempty"`
	Interval    Duration `json:"interval,omitempty"`
	Timeout     Duration `json:"timeout,omitempty"`
	Trip        string   `json:"trip,omitempty"` // CEL expression
}

// Targets binds policies to apps, actor types and components.
type Targets struct {
	Apps       map[string]EndpointPolicyNames  `json:"apps,omitempty"`
	Actors     map[string]ActorPolicyNames     `json:"actors,omitempty"`
	Components map[string]ComponentPolicyNames `json:"components,omitempty"`
}

// PolicyNames references named policies.
type PolicyNames struct {
	Timeout        string `json:"timeout,omitempty"`
	Retry          string `json:"retry,omitempty"`
	CircuitBreaker string `json:"circuitBreaker,omitempty"`
}

// EndpointPolicyNames are the policies for calls to one app or HTTPEndpoint.
type EndpointPolicyNames struct {
	Timeout                 string `json:"timeout,omitempty"`
	Retry                   string `json:"retry,omitempty"`
	CircuitBreaker          string `json:"circuitBreaker,omitempty"`
	CircuitBreakerCacheSize int    `json:"circuitBreakerCacheSize,omitempty"`
}

// ActorPolicyNames are the policies for one actor type.
type ActorPolicyNames struct {
	Timeout                 string `json:"timeout,omitempty"`
	Retry                   string `json:"retry,omitempty"`
	CircuitBreaker          string `json:"circuitBreaker,omitempty"`
	CircuitBreakerScope     string `json:"circuitBreakerScope,omitempty"` // type | id | both
	CircuitBreakerCacheSize int    `json:"circuitBreakerCacheSize,omitempty"`
}

// ComponentPolicyNames are the policies for one component, per direction.
type ComponentPolicyNames struct {
	Outbound PolicyNames `json:"outbound,omitzero"`
	Inbound  PolicyNames `json:"inbound,omitzero"`
}

// Name returns metadata.name.
func (r Resiliency) Name() string { return r.Metadata.Name }

// Policy names are resolved later, across all Resiliency resources (they
// are merged), so references are not checked here.
func (r *Resiliency) validate() []*Error {
	out := errs(checkName(r.Metadata.Name))
	p := r.Spec.Policies
	for _, name := range sortedKeys(p.Timeouts) {
		out = append(out, errs(p.Timeouts[name].check("spec.policies.timeouts."+name))...)
	}
	for _, name := range sortedKeys(p.Retries) {
		out = append(out, p.Retries[name].validate("spec.policies.retries."+name)...)
	}
	for _, name := range sortedKeys(p.CircuitBreakers) {
		out = append(out, p.CircuitBreakers[name].validate("spec.policies.circuitBreakers."+name)...)
	}
	for _, name := range sortedKeys(r.Spec.Targets.Actors) {
		out = append(out, errs(r.Spec.Targets.Actors[name].validate("spec.targets.actors."+name))...)
	}
	return out
}

func (p RetryPolicy) validate(path string) []*Error {
	out := errs(p.Duration.check(path+".duration"), p.MaxInterval.check(path+".maxInterval"))
	switch p.Policy {
	case "", "constant", "exponential":
	default:
		out = append(out, fieldErr(path+".policy", "%q is not valid (want constant or exponential)", p.Policy))
	}
	if p.MaxRetries != nil && *p.MaxRetries < -1 {
		out = append(out, fieldErr(path+".maxRetries", "%d is not valid (want -1 for forever, 0 or more)", *p.MaxRetries))
	}
	if m := p.Matching; m != nil {
		if err := checkCodes(m.HTTPStatusCodes, 100, 599); err != nil {
			out = append(out, &Error{Field: path + ".matching.httpStatusCodes", Err: err})
		}
		if err := checkCodes(m.GRPCStatusCodes, 0, 16); err != nil {
			out = append(out, &Error{Field: path + ".matching.gRPCStatusCodes", Err: err})
		}
	}
	return out
}

func (p CircuitBreakerPolicy) validate(path string) []*Error {
	out := errs(p.Interval.check(path+".interval"), p.Timeout.check(path+".timeout"))
	if p.MaxRequests < 0 {
		out = append(out, fieldErr(path+".maxRequests", "%d must not be negative", p.MaxRequests))
	}
	return out
}

func (a ActorPolicyNames) validate(path string) *Error {
	switch a.CircuitBreakerScope {
	case "type", "id", "both":
		return nil
	case "":
		if a.CircuitBreaker == "" {
			return nil
		}
		return fieldErr(path+".circuitBreakerScope", "required when circuitBreaker is set (want type, id or both)")
	}
	return fieldErr(path+".circuitBreakerScope", "%q is not valid (want type, id or both)", a.CircuitBreakerScope)
}

// ParseStatusCodes parses a CSV of status codes and inclusive ranges
// ("500-599,429") into ranges, each bound within [lo, hi].
func ParseStatusCodes(s string, lo, hi int) ([][2]int, error) {
	var out [][2]int
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		from, to, isRange := strings.Cut(part, "-")
		a, errA := strconv.Atoi(strings.TrimSpace(from))
		b, errB := a, error(nil)
		if isRange {
			b, errB = strconv.Atoi(strings.TrimSpace(to))
		}
		if errA != nil || errB != nil || a > b || a < lo || b > hi {
			return nil, fmt.Errorf("%q is not a code or range between %d and %d", part, lo, hi)
		}
		out = append(out, [2]int{a, b})
	}
	return out, nil
}

func checkCodes(s string, lo, hi int) error {
	_, err := ParseStatusCodes(s, lo, hi)
	return err
}
