package metrics

import (
	"fmt"
	"regexp"
	"slices"
	"sort"

	"github.com/outrigger/outrigger/internal/resources"
)

// labelled is what the client library's *Vec types offer.
type labelled[T any] interface {
	GetMetricWithLabelValues(lvs ...string) (T, error)
}

// vec is one labelled instrument plus the Configuration's rules for its
// labels.
type vec[T any] struct {
	v     labelled[T]
	rules [][]rewrite // by label position; nil when the metric has no rules
}

func newVec[T any](v labelled[T], rules [][]rewrite) *vec[T] {
	return &vec[T]{v: v, rules: rules}
}

// with returns the child for the label values (in declaration order). It
// rewrites the values by the rules first. Invalid values (e.g. not UTF-8)
// drop the sample rather than fail the request.
func (v *vec[T]) with(lvs ...string) (T, bool) {
	if v.rules != nil {
		for i, rs := range v.rules {
			for _, r := range rs {
				lvs[i] = r.re.ReplaceAllString(lvs[i], r.replacement)
			}
		}
	}
	c, err := v.v.GetMetricWithLabelValues(lvs...)
	return c, err == nil
}

// rewrite replaces what re matches in a label value with replacement
// (Configuration spec.metrics.rules[].labels[].regex: {replacement: regex}).
type rewrite struct {
	replacement string
	re          *regexp.Regexp
}

// rules are the compiled rules by metric name, then label name.
type rules map[string]map[string][]rewrite

func compileRules(spec []resources.MetricsRule) (rules, error) {
	if len(spec) == 0 {
		return nil, nil
	}
	out := rules{}
	for _, r := range spec {
		for _, l := range r.Labels {
			// Sorted by replacement so the order of rewrites is stable.
			keys := make([]string, 0, len(l.Regex))
			for k := range l.Regex {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var rws []rewrite
			for _, k := range keys {
				re, err := regexp.Compile(l.Regex[k])
				if err != nil {
					return nil, fmt.Errorf("metrics rule %s label %s: %w", r.Name, l.Name, err)
				}
				rws = append(rws, rewrite{replacement: k, re: re})
			}
			if out[r.Name] == nil {
				out[r.Name] = map[string][]rewrite{}
			}
			out[r.Name][l.Name] = append(out[r.Name][l.Name], rws...)
		}
	}
	return out, nil
}

// forMetric lays out the rules of one metric by label position.
func (rs rules) forMetric(name string, labels []string) [][]rewrite {
	byLabel := rs[name]
	if len(byLabel) == 0 {
		return nil
	}
	out := make([][]rewrite, len(labels))
	for i, l := range labels {
		out[i] = byLabel[l]
	}
	return out
}

// defaultLatencyBuckets are daprd's latency buckets, in milliseconds.
var defaultLatencyBuckets = []float64{1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 30, 40, 50, 65, 80, 100, 130, 160, 200, 250, 300, 400, 500, 650, 800, 1000, 2000, 5000, 10000, 20000, 50000, 100000}

// sizeBuckets are daprd's payload size buckets, in bytes (1 KiB … 4 GiB).
var sizeBuckets = []float64{1 << 10, 2 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20, 256 << 20, 1 << 30, 4 << 30}

// latencyBuckets applies spec.metrics.latencyDistributionBuckets, sorted
// and without duplicates as Prometheus requires.
func latencyBuckets(custom []int) []float64 {
	if len(custom) == 0 {
		return defaultLatencyBuckets
	}
	out := make([]float64, 0, len(custom))
	for _, b := range custom {
		out = append(out, float64(b))
	}
	slices.Sort(out)
	return slices.Compact(out)
}
