package metrics

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/resources"
)

func TestDisabledIsNil(t *testing.T) {
	cases := []struct {
		name string
		opts Options
		spec resources.MetricSpec
	}{
		{"flag off", Options{AppID: "a", Enabled: false}, resources.MetricSpec{}},
		{"configuration off", Options{AppID: "a", Enabled: true}, resources.MetricSpec{Enabled: ptr(false)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(tc.opts, tc.spec)
			if err != nil || m != nil {
				t.Fatalf("New = %v, %v; want nil, nil", m, err)
			}
			// Every hook is safe on the disabled recorder.
			h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
			if got := m.HTTPMiddleware(h); got == nil {
				t.Error("HTTPMiddleware on nil returned nil")
			}
			if m.GRPCServerOptions() != nil || m.GRPCClientOptions() != nil || m.ResiliencyObserver() != nil {
				t.Error("disabled recorder returned options")
			}
			if !m.Start().IsZero() || m.Enabled() || m.Registry() != nil {
				t.Error("disabled recorder reads the clock or has a registry")
			}
			m.ComponentCalled(KindState, "s", OpGet, nil, m.Start())
			m.PubsubEgress("p", "t", nil, m.Start())
			m.PubsubIngress("p", "t", IngressSuccess, m.Start())
			m.InputBindingEvent("b", nil, m.Start())
			m.ComponentLoaded("state.redis")
			m.ComponentInitFailed("state.redis", InitFailInit, "s")
			m.ErrorCode("ERR_STATE_GET")
			m.ActorActivated("T")
			m.ActorDeactivated("T", nil)
			m.ActorPendingCalls("T", 1)
			m.ActorTimerFired("T", true)
			m.ActorReminderFired("T", false)
			m.InvocationRequestSent("b", "m")
			if ch := m.WrapAppChannel(nil); ch != nil {
				t.Error("WrapAppChannel(nil) on the disabled recorder is not nil")
			}
		})
	}
}

func TestNewRejectsBadConfiguration(t *testing.T) {
	cases := []struct {
		name string
		spec resources.MetricSpec
	}{
		{"bad rule regex", resources.MetricSpec{Rules: []resources.MetricsRule{{Name: "dapr_http_server_request_count",
			Labels: []resources.MetricLabel{{Name: "path", Regex: map[string]string{"x": "("}}}}}}},
		{"conflicting path patterns", resources.MetricSpec{HTTP: &resources.MetricHTTP{PathMatching: []string{"/a/{x}", "/a/{y}"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(Options{AppID: "a", Enabled: true}, tc.spec); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

func TestHTTPServerLabels(t *testing.T) {
	requests := []struct{ method, path string }{
		{"GET", "/v1.0/state/store/key1"},
		{"GET", "/v1.0/state/store/key2"},
		{"POST", "/orders/1"},
		{"POST", "/orders/2"},
		{"BREW", "/v1.0/healthz"},
	}
	cases := []struct {
		name string
		http *resources.MetricHTTP
		want map[string]float64
	}{
		{"default: increased cardinality, ids masked", nil, map[string]float64{
			"app_id=app1,method=GET,path=/v1.0/state/store,status=200": 2,
			"app_id=app1,method=POST,path=/orders/1,status=200":        1,
			"app_id=app1,method=POST,path=/orders/2,status=200":        1,
			"app_id=app1,method=UNKNOWN,path=/v1.0/healthz,status=200": 1,
		}},
		{"low cardinality drops the path", &resources.MetricHTTP{IncreasedCardinality: ptr(false)}, map[string]float64{
			"app_id=app1,method=GET,path=,status=200":     2,
			"app_id=app1,method=POST,path=,status=200":    2,
			"app_id=app1,method=UNKNOWN,path=,status=200": 1,
		}},
		{"low cardinality with path matching", &resources.MetricHTTP{IncreasedCardinality: ptr(false), PathMatching: []string{"/orders/{orderID}"}}, map[string]float64{
			"app_id=app1,method=GET,path=,status=200":                   2,
			"app_id=app1,method=POST,path=/orders/{orderID},status=200": 2,
			"app_id=app1,method=UNKNOWN,path=,status=200":               1,
		}},
		{"path matching with a catch-all root", &resources.MetricHTTP{IncreasedCardinality: ptr(false), PathMatching: []string{"/orders/{orderID}", "/"}}, map[string]float64{
			"app_id=app1,method=GET,path=/,status=200":                  2,
			"app_id=app1,method=POST,path=/orders/{orderID},status=200": 2,
			"app_id=app1,method=UNKNOWN,path=/,status=200":              1,
		}},
		{"high cardinality with path matching", &resources.MetricHTTP{PathMatching: []string{"/orders/{orderID}"}}, map[string]float64{
			"app_id=app1,method=GET,path=/v1.0/state/store,status=200":  2,
			"app_id=app1,method=POST,path=/orders/{orderID},status=200": 2,
			"app_id=app1,method=UNKNOWN,path=/v1.0/healthz,status=200":  1,
		}},
		{"exclude verbs", &resources.MetricHTTP{IncreasedCardinality: ptr(false), ExcludeVerbs: ptr(true)}, map[string]float64{
			"app_id=app1,method=,path=,status=200": 5,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newTest(t, resources.MetricSpec{HTTP: tc.http})
			h := m.HTTPMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
			for _, r := range requests {
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(r.method, r.path, nil))
			}
			wantSeries(t, m, "dapr_http_server_request_count", tc.want)
			wantSeries(t, m, "dapr_http_server_latency", tc.want)
			wantSeries(t, m, "dapr_http_server_response_bytes", map[string]float64{"app_id=app1": 5})
		})
	}
}

func TestHTTPServerStatusAndSizes(t *testing.T) {
	m := newTest(t, resources.MetricSpec{})
	h := m.HTTPMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write(make([]byte, 3000))
	}))
	req := httptest.NewRequest("PUT", "/x", nil)
	req.ContentLength = 1500
	h.ServeHTTP(httptest.NewRecorder(), req)
	wantSeries(t, m, "dapr_http_server_request_count", map[string]float64{"app_id=app1,method=PUT,path=/x,status=404": 1})
	f := gather(t, m)
	if got := f["dapr_http_server_response_bytes"].GetMetric()[0].GetHistogram().GetSampleSum(); got != 3000 {
		t.Errorf("response bytes sum = %v, want 3000", got)
	}
	if got := f["dapr_http_server_request_bytes"].GetMetric()[0].GetHistogram().GetSampleSum(); got != 1500 {
		t.Errorf("request bytes sum = %v, want 1500", got)
	}
}

func TestLatencyBuckets(t *testing.T) {
	cases := []struct {
		name   string
		custom []int
		want   []float64
	}{
		{"daprd's defaults", nil, defaultLatencyBuckets},
		{"configured, sorted and deduplicated", []int{100, 10, 25, 10}, []float64{10, 25, 100}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newTest(t, resources.MetricSpec{LatencyDistributionBuckets: tc.custom})
			m.ComponentCalled(KindState, "store", OpGet, nil, time.Now())
			f := gather(t, m)["dapr_component_state_latencies"]
			var got []float64
			for _, b := range f.GetMetric()[0].GetHistogram().GetBucket() {
				got = append(got, b.GetUpperBound())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("buckets = %v, want %v", got, tc.want)
			}
		})
	}
	if len(defaultLatencyBuckets) != 34 || defaultLatencyBuckets[33] != 100000 {
		t.Errorf("default buckets are not daprd's 34 buckets: %v", defaultLatencyBuckets)
	}
}

func TestRulesRewriteLabels(t *testing.T) {
	m := newTest(t, resources.MetricSpec{Rules: []resources.MetricsRule{
		{Name: "dapr_http_server_request_count", Labels: []resources.MetricLabel{
			{Name: "path", Regex: map[string]string{"/orders/": "/orders/.+"}},
		}},
		{Name: "dapr_component_state_count", Labels: []resources.MetricLabel{
			{Name: "component", Regex: map[string]string{"tenant": "tenant-[0-9]+"}},
		}},
	}})
	h := m.HTTPMiddleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, p := range []string{"/orders/a1", "/orders/b2", "/items/c3"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	wantSeries(t, m, "dapr_http_server_request_count", map[string]float64{
		"app_id=app1,method=GET,path=/orders/,status=200":  2,
		"app_id=app1,method=GET,path=/items/c3,status=200": 1,
	})
	// The rule applies to its metric only: the latency keeps the paths.
	if got := len(series(t, m, "dapr_http_server_latency")); got != 3 {
		t.Errorf("latency series = %d, want 3 (rules are per metric)", got)
	}
	m.ComponentCalled(KindState, "tenant-1", OpGet, nil, time.Now())
	m.ComponentCalled(KindState, "tenant-22", OpSet, errors.New("boom"), time.Now())
	wantSeries(t, m, "dapr_component_state_count", map[string]float64{
		"app_id=app1,component=tenant,namespace=ns,operation=get,success=true":  1,
		"app_id=app1,component=tenant,namespace=ns,operation=set,success=false": 1,
	})
}

func TestPathLabelsAreBounded(t *testing.T) {
	pl, err := newPathLabeler(nil)
	if err != nil {
		t.Fatal(err)
	}
	distinct := map[string]bool{}
	for i := range maxPathLabels + 50 {
		distinct[pl.label("/items/"+time.Duration(i).String())] = true
	}
	if len(distinct) != maxPathLabels+1 { // the kept paths plus ""
		t.Errorf("distinct labels = %d, want %d", len(distinct), maxPathLabels+1)
	}
	if !distinct[""] {
		t.Error("paths past the bound should get the empty label")
	}
	if got := pl.label("/items/0s"); got != "/items/0s" {
		t.Errorf("a path seen before the bound = %q, want it kept", got)
	}
}

func TestMaskIDs(t *testing.T) {
	cases := []struct{ in, want string }{
		{"/v1.0/state/store/key", "/v1.0/state/store"},
		{"/v1.0/state/store", "/v1.0/state/store"},
		{"/v1.0/secrets/vault/db-password", "/v1.0/secrets/vault"},
		{"/v1.0/actors/Cart/42/method/add", "/v1.0/actors/Cart/{id}/method"},
		{"/v1.0/actors/Cart/42/state", "/v1.0/actors/Cart/{id}/state"},
		{"/actors/Cart/42/method/add", "/actors/Cart/{id}/method/add"},
		{"/v1.0-beta1/workflows/dapr/inst-1", "/v1.0-beta1/workflows/dapr/{instanceId}"},
		{"/v1.0-beta1/workflows/dapr/MyFlow/start", "/v1.0-beta1/workflows/dapr/MyFlow/start"},
		{"/v1.0-beta1/workflows/dapr/inst-1/raiseEvent/ev", "/v1.0-beta1/workflows/dapr/{instanceId}/raiseEvent/{eventName}"},
		{"/v1.0-beta1/workflows/dapr/inst-1/terminate", "/v1.0-beta1/workflows/dapr/{instanceId}/terminate"},
		{"/v1.0/invoke/app/method/orders/1", "/v1.0/invoke/app/method/orders/1"},
		{"/v1.0/healthz", "/v1.0/healthz"},
	}
	for _, tc := range cases {
		if got := maskIDs(tc.in); got != tc.want {
			t.Errorf("maskIDs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestComponentMetrics(t *testing.T) {
	m := newTest(t, resources.MetricSpec{})
	start := time.Now()
	m.ComponentCalled(KindState, "store", OpGet, nil, start)
	m.ComponentCalled(KindState, "store", OpGet, nil, start)
	m.ComponentCalled(KindSecret, "vault", OpBulkGet, errors.New("x"), start)
	m.ComponentCalled(KindConfiguration, "cfg", OpGet, nil, start)
	m.ComponentCalled(KindOutputBinding, "out", "create", nil, start)
	m.ComponentCalled(KindCrypto, "keys", OpCrypto, nil, start)
	m.ComponentCalled("lock", "l", OpGet, nil, start) // no such metric: ignored
	m.PubsubEgress("bus", "orders", nil, start)
	m.PubsubIngress("bus", "orders", IngressRetry, start)
	m.InputBindingEvent("cron", nil, start)

	wantSeries(t, m, "dapr_component_state_count", map[string]float64{"app_id=app1,component=store,namespace=ns,operation=get,success=true": 2})
	wantSeries(t, m, "dapr_component_state_latencies", map[string]float64{"app_id=app1,component=store,namespace=ns,operation=get,success=true": 2})
	wantSeries(t, m, "dapr_component_secret_count", map[string]float64{"app_id=app1,component=vault,namespace=ns,operation=bulk_get,success=false": 1})
	wantSeries(t, m, "dapr_component_configuration_count", map[string]float64{"app_id=app1,component=cfg,namespace=ns,operation=get,success=true": 1})
	wantSeries(t, m, "dapr_component_output_binding_count", map[string]float64{"app_id=app1,component=out,namespace=ns,operation=create,success=true": 1})
	wantSeries(t, m, "dapr_component_crypto_count", map[string]float64{"app_id=app1,component=keys,namespace=ns,operation=crypto_op,success=true": 1})
	wantSeries(t, m, "dapr_component_pubsub_egress_count", map[string]float64{"app_id=app1,component=bus,namespace=ns,success=true,topic=orders": 1})
	wantSeries(t, m, "dapr_component_pubsub_ingress_count", map[string]float64{"app_id=app1,component=bus,namespace=ns,process_status=retry,status=retry,topic=orders": 1})
	wantSeries(t, m, "dapr_component_pubsub_ingress_latencies", map[string]float64{"app_id=app1,component=bus,namespace=ns,process_status=retry,status=retry,topic=orders": 1})
	wantSeries(t, m, "dapr_component_input_binding_count", map[string]float64{"app_id=app1,component=cron,namespace=ns,success=true": 1})
}

func TestRuntimeAndActorMetrics(t *testing.T) {
	m := newTest(t, resources.MetricSpec{})
	m.ComponentLoaded("state.redis")
	m.ComponentLoaded("pubsub.redis")
	m.ComponentInitFailed("state.postgresql", InitFailInit, "pg")
	m.ActorActivated("Cart")
	m.ActorDeactivated("Cart", nil)
	m.ActorDeactivated("Cart", errors.New("app said no"))
	m.ActorPendingCallsAdd("Cart", 1)
	m.ActorPendingCallsAdd("Cart", 1)
	m.ActorPendingCallsAdd("Cart", -1)
	m.ActorTimers("Cart", 3)
	m.ActorReminders("Cart", 2)
	m.ActorTimerFired("Cart", true)
	m.ActorReminderFired("Cart", false)
	m.InvocationRequestSent("b", "orders")
	m.InvocationResponseReceived("b", "orders", 200, time.Now())

	wantSeries(t, m, "dapr_runtime_component_loaded", map[string]float64{"app_id=app1": 2})
	wantSeries(t, m, "dapr_runtime_component_init_total", map[string]float64{"app_id=app1,component=state.redis": 1, "app_id=app1,component=pubsub.redis": 1})
	wantSeries(t, m, "dapr_runtime_component_init_fail_total", map[string]float64{"app_id=app1,component=state.postgresql,name=pg,reason=init": 1})
	wantSeries(t, m, "dapr_runtime_actor_activated_total", map[string]float64{"actor_type=Cart,app_id=app1": 1})
	wantSeries(t, m, "dapr_runtime_actor_deactivated_total", map[string]float64{"actor_type=Cart,app_id=app1": 1})
	wantSeries(t, m, "dapr_runtime_actor_deactivated_failed_total", map[string]float64{"actor_type=Cart,app_id=app1,reason=deactivate": 1})
	wantSeries(t, m, "dapr_runtime_actor_pending_actor_calls", map[string]float64{"actor_type=Cart,app_id=app1": 1})
	wantSeries(t, m, "dapr_runtime_actor_timers", map[string]float64{"actor_type=Cart,app_id=app1": 3})
	wantSeries(t, m, "dapr_runtime_actor_reminders", map[string]float64{"actor_type=Cart,app_id=app1": 2})
	wantSeries(t, m, "dapr_runtime_actor_timers_fired_total", map[string]float64{"actor_type=Cart,app_id=app1,success=true": 1})
	wantSeries(t, m, "dapr_runtime_actor_reminders_fired_total", map[string]float64{"actor_type=Cart,app_id=app1,success=false": 1})
	wantSeries(t, m, "dapr_runtime_service_invocation_req_sent_total", map[string]float64{"app_id=app1,destination_app_id=b,method=orders": 1})
	wantSeries(t, m, "dapr_runtime_service_invocation_res_recv_total", map[string]float64{"app_id=app1,method=orders,source_app_id=b,status=200": 1})
}

func TestResiliencyObserver(t *testing.T) {
	m := newTest(t, resources.MetricSpec{})
	obs := m.ResiliencyObserver()
	app := resiliency.Target{Type: resiliency.TargetApp, Name: "b", Direction: resiliency.Outbound}
	store := resiliency.Target{Type: resiliency.TargetComponent, Name: "store", ComponentKind: resiliency.Statestore, Direction: resiliency.Outbound}
	obs.PolicyLoaded("myresiliency")
	obs.PolicyExecuted(app, resiliency.KindRetry)
	obs.PolicyExecuted(app, resiliency.KindRetry)
	obs.PolicyActivated(app, resiliency.KindRetry)
	obs.PolicyActivated(store, resiliency.KindCircuitBreaker) // counted by state change only
	obs.CircuitBreakerState(store, "open")

	wantSeries(t, m, "dapr_resiliency_loaded", map[string]float64{"app_id=app1,name=myresiliency,namespace=ns": 1})
	wantSeries(t, m, "dapr_resiliency_count", map[string]float64{"app_id=app1,flow_direction=outbound,name=,namespace=ns,policy=retry,status=,target=app_b": 2})
	wantSeries(t, m, "dapr_resiliency_activations_total", map[string]float64{
		"app_id=app1,flow_direction=outbound,name=,namespace=ns,policy=retry,status=,target=app_b":                         1,
		"app_id=app1,flow_direction=outbound,name=,namespace=ns,policy=circuitbreaker,status=open,target=statestore_store": 1,
	})
	wantSeries(t, m, "dapr_resiliency_cb_state", map[string]float64{
		"app_id=app1,flow_direction=outbound,name=,namespace=ns,policy=circuitbreaker,status=closed,target=statestore_store":    0,
		"app_id=app1,flow_direction=outbound,name=,namespace=ns,policy=circuitbreaker,status=half-open,target=statestore_store": 0,
		"app_id=app1,flow_direction=outbound,name=,namespace=ns,policy=circuitbreaker,status=open,target=statestore_store":      1,
	})
}

func TestRegistryHasRuntimeCollectors(t *testing.T) {
	f := gather(t, newTest(t, resources.MetricSpec{}))
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if f[name] == nil {
			t.Errorf("%s missing", name)
		}
	}
}

func TestConcurrentRecording(t *testing.T) {
	m := newTest(t, resources.MetricSpec{})
	h := m.HTTPMiddleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	const workers, each = 8, 300
	done := make(chan struct{})
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range each {
				path := "/v1.0/state/store" + string(rune('a'+(w+i)%5))
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
				m.ComponentCalled(KindState, "store", OpGet, nil, m.Start())
			}
		}()
	}
	for range workers {
		<-done
	}
	var total float64
	for _, v := range series(t, m, "dapr_http_server_request_count") {
		total += v
	}
	if total != workers*each {
		t.Errorf("recorded %v requests, want %d", total, workers*each)
	}
	if got := series(t, m, "dapr_component_state_count"); len(got) != 1 || got["app_id=app1,component=store,namespace=ns,operation=get,success=true"] != workers*each {
		t.Errorf("state count = %v", got)
	}
}

// now is only for latencies: it must carry a monotonic reading (so Since
// ignores wall-clock steps) and never run backwards.
func TestNowIsMonotonic(t *testing.T) {
	a := now()
	b := now()
	if b.Before(a) {
		t.Errorf("now went backwards: %v then %v", a, b)
	}
	if a.Round(0) == a {
		t.Errorf("now() = %v has no monotonic reading", a)
	}
	if d := time.Since(a); d < 0 {
		t.Errorf("time.Since(now()) = %v", d)
	}
}

// Actor callbacks all share one masked label: the method cache must not
// keep one entry per actor id.
func TestMethodPathDoesNotCacheActorIDs(t *testing.T) {
	pl, err := newPathLabeler(nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		method := "actors/counter/id-" + time.Duration(i).String() + "/method/add"
		if got, want := pl.methodPath(method), "/actors/counter/{id}/method/add"; got != want {
			t.Fatalf("methodPath(%q) = %q, want %q", method, got, want)
		}
	}
	if got := pl.methodPath("orders/new"); got != "/orders/new" {
		t.Fatalf("methodPath(orders/new) = %q", got)
	}
	mp := pl.methods.m.Load()
	if mp == nil || len(*mp) != 1 {
		t.Fatalf("method cache holds %v, want only orders/new", mp)
	}
}
