package metrics

import (
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/outrigger/outrigger/internal/resources"
)

func ptr[T any](v T) *T { return &v }

// newTest builds an enabled recorder for app "app1" in namespace "ns".
func newTest(t testing.TB, spec resources.MetricSpec) *Metrics {
	t.Helper()
	m, err := New(Options{AppID: "app1", Namespace: "ns", Enabled: true}, spec)
	if err != nil {
		t.Fatal(err)
	}
	if m == nil {
		t.Fatal("New returned the disabled recorder")
	}
	return m
}

// gather returns the registry's families by name.
func gather(t testing.TB, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]*dto.MetricFamily, len(fams))
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// labelsOf renders a sample's labels as "k=v,k=v" in name order.
func labelsOf(metric *dto.Metric) string {
	var parts []string
	for _, l := range metric.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// series maps the label sets of a family to their counter value, gauge
// value or histogram sample count.
func series(t testing.TB, m *Metrics, name string) map[string]float64 {
	t.Helper()
	f := gather(t, m)[name]
	out := map[string]float64{}
	if f == nil {
		return out
	}
	for _, s := range f.GetMetric() {
		var v float64
		switch {
		case s.Counter != nil:
			v = s.GetCounter().GetValue()
		case s.Gauge != nil:
			v = s.GetGauge().GetValue()
		case s.Histogram != nil:
			v = float64(s.GetHistogram().GetSampleCount())
		}
		out[labelsOf(s)] = v
	}
	return out
}

// wantSeries fails unless name has exactly the want series and values.
func wantSeries(t testing.TB, m *Metrics, name string, want map[string]float64) {
	t.Helper()
	got := series(t, m, name)
	if len(got) != len(want) {
		t.Errorf("%s: got %d series %v, want %v", name, len(got), got, want)
		return
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s{%s} = %v (present %v), want %v; all: %v", name, k, got[k], hasKey(got, k), v, got)
		}
	}
}

func hasKey(m map[string]float64, k string) bool { _, ok := m[k]; return ok }
