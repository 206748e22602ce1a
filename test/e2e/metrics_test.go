package e2e

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// metricsApp subscribes to bus/orders on /orders, counts deliveries and
// answers every other call with 200.
type metricsApp struct{ delivered atomic.Int64 }

func (a *metricsApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	switch r.URL.Path {
	case "/dapr/subscribe":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `[{"pubsubname":"bus","topic":"orders","route":"/orders"}]`)
	case "/orders":
		a.delivered.Add(1)
	default:
		_, _ = io.WriteString(w, "hello")
	}
}

const metricsComponents = `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: store
spec:
  type: state.in-memory
  version: v1
  metadata: []
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: bus
spec:
  type: pubsub.in-memory
  version: v1
  metadata: []
`

// startWithMetrics starts a sidecar for an app with the test's resources
// and Configuration and returns it with its metrics port.
func startWithMetrics(t *testing.T, appPort int, config string, extra ...string) (*sidecar, int) {
	t.Helper()
	dir, cfgDir := t.TempDir(), t.TempDir()
	writeFile(t, dir, "components.yaml", metricsComponents)
	writeFile(t, cfgDir, "config.yaml", config)
	mport := freePort(t)
	args := []string{"--app-id", blkUnique("metrics-"), "--resources-path", dir, "--config", cfgDir + "/config.yaml",
		"--dapr-internal-grpc-port", strconv.Itoa(freePort(t)), "--metrics-port", strconv.Itoa(mport)}
	if appPort > 0 {
		args = append(args, "--app-port", strconv.Itoa(appPort))
	}
	s := start(t, nil, append(args, extra...)...)
	s.waitStatus(t, "/v1.0/healthz", 204, 20*time.Second)
	return s, mport
}

// scrape reads the metrics endpoint.
func scrape(t *testing.T, port int) (map[string]*dto.MetricFamily, error) {
	t.Helper()
	res, err := testClient.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/metrics")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: status %d", res.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(res.Body)
}

// sample finds the value of the series of name whose labels include want
// (counter, gauge, or a histogram's count); ok is false without one.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

type wantSample struct {
	name   string
	labels map[string]string
	value  float64
}

// waitSamples polls the endpoint until every wanted series has its value
// (deliveries and response bodies finish after the API call returns).
func waitSamples(t *testing.T, port int, wants []wantSample) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var missing []string
	for {
		fams, err := scrape(t, port)
		missing = missing[:0]
		if err != nil {
			missing = append(missing, err.Error())
		} else {
			for _, w := range wants {
				if v, ok := sample(fams, w.name, w.labels); !ok || v != w.value {
					missing = append(missing, fmt.Sprintf("%s%v = %v (found %v), want %v", w.name, w.labels, v, ok, w.value))
				}
			}
		}
		if len(missing) == 0 {
			return fams
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics not as expected:\n%s", strings.Join(missing, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestMetricsRecordsAPICalls(t *testing.T) {
	app := &metricsApp{}
	s, mport := startWithMetrics(t, httpApp(t, app), `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: metrics
spec:
  metrics:
    enabled: true
    recordErrorCodes: true
`)
	appID := s.cmd.Args[indexOf(s.cmd.Args, "--app-id")+1]

	if r := call(t, "POST", s.url("/v1.0/state/store"), `[{"key":"a","value":1},{"key":"b","value":2}]`, nil); r.status != 204 {
		t.Fatalf("save state: %d %s", r.status, r.body)
	}
	if r := call(t, "GET", s.url("/v1.0/state/store/a"), "", nil); r.status != 200 {
		t.Fatalf("get state: %d %s", r.status, r.body)
	}
	if r := call(t, "GET", s.url("/v1.0/state/nostore/a"), "", nil); r.status != 400 {
		t.Fatalf("get from a missing store: %d %s", r.status, r.body)
	}
	for i := range 3 {
		if r := call(t, "POST", s.url("/v1.0/publish/bus/orders"), fmt.Sprintf(`{"n":%d}`, i), nil); r.status != 204 {
			t.Fatalf("publish: %d %s", r.status, r.body)
		}
	}
	for range 2 {
		if r := call(t, "POST", s.url("/v1.0/invoke/"+appID+"/method/hello"), "hi", nil); r.status != 200 {
			t.Fatalf("invoke: %d %s", r.status, r.body)
		}
	}
	conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(s.grpcPort), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := runtimev1.NewDaprClient(conn).GetState(ctx, &runtimev1.GetStateRequest{StoreName: "store", Key: "b"}); err != nil {
		t.Fatal(err)
	}

	id := map[string]string{"app_id": appID}
	with := func(kv ...string) map[string]string {
		out := map[string]string{"app_id": appID}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	fams := waitSamples(t, mport, []wantSample{
		{"dapr_http_server_request_count", with("method", "POST", "path", "/v1.0/state/store", "status", "204"), 1},
		{"dapr_http_server_request_count", with("method", "GET", "path", "/v1.0/state/store", "status", "200"), 1},
		{"dapr_http_server_request_count", with("method", "POST", "path", "/v1.0/publish/bus/orders", "status", "204"), 3},
		{"dapr_http_server_latency", with("method", "POST", "path", "/v1.0/publish/bus/orders", "status", "204"), 3},
		{"dapr_component_state_count", with("component", "store", "operation", "set", "success", "true"), 1},
		{"dapr_component_state_count", with("component", "store", "operation", "get", "success", "true"), 2},
		{"dapr_component_state_latencies", with("component", "store", "operation", "get", "success", "true"), 2},
		{"dapr_component_pubsub_egress_count", with("component", "bus", "topic", "orders", "success", "true"), 3},
		{"dapr_component_pubsub_ingress_count", with("component", "bus", "topic", "orders", "process_status", "success"), 3},
		{"dapr_http_client_completed_count", with("method", "POST", "path", "/hello", "status", "200"), 2},
		{"dapr_runtime_service_invocation_req_sent_total", with("destination_app_id", appID, "method", "hello"), 2},
		{"dapr_runtime_service_invocation_res_recv_total", with("source_app_id", appID, "method", "hello", "status", "200"), 2},
		{"dapr_grpc_io_server_completed_rpcs", with("grpc_server_method", "/dapr.proto.runtime.v1.Dapr/GetState", "grpc_server_status", "OK"), 1},
		{"dapr_runtime_component_loaded", id, 2},
		{"dapr_runtime_component_init_total", with("component", "state.in-memory"), 1},
		{"dapr_error_code_total", with("category", "state", "error_code", "ERR_STATE_STORE_NOT_FOUND"), 1},
	})
	if app.delivered.Load() != 3 {
		t.Errorf("app got %d events, want 3", app.delivered.Load())
	}
	// Latencies use daprd's buckets, in milliseconds.
	bounds := finiteBounds(fams["dapr_http_server_latency"])
	if n := len(bounds); n != 34 || bounds[0] != 1 || bounds[n-1] != 100000 {
		t.Errorf("latency buckets = %v; want daprd's 34 from 1 to 100000", bounds)
	}
	if fams["go_goroutines"] == nil || fams["process_resident_memory_bytes"] == nil {
		t.Error("Go runtime and process metrics missing")
	}
}

func TestMetricsLowCardinalityAndBuckets(t *testing.T) {
	s, mport := startWithMetrics(t, 0, `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: metrics
spec:
  metrics:
    latencyDistributionBuckets: [5, 50, 500]
    http:
      increasedCardinality: false
      pathMatching: ["/v1.0/state/store/{key}"]
`)
	for _, k := range []string{"a", "b", "c"} {
		call(t, "GET", s.url("/v1.0/state/store/"+k), "", nil)
	}
	call(t, "GET", s.url("/v1.0/metadata"), "", nil)
	fams := waitSamples(t, mport, []wantSample{
		{"dapr_http_server_request_count", map[string]string{"method": "GET", "path": "/v1.0/state/store/{key}", "status": "204"}, 3},
		{"dapr_http_server_request_count", map[string]string{"method": "GET", "path": "", "status": "200"}, 1},
	})
	for _, m := range fams["dapr_http_server_request_count"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "path" && strings.Contains(l.GetValue(), "metadata") {
				t.Errorf("low cardinality kept an unmatched path: %v", m.GetLabel())
			}
		}
	}
	if bounds := finiteBounds(fams["dapr_http_server_latency"]); fmt.Sprint(bounds) != "[5 50 500]" {
		t.Errorf("latency buckets = %v, want the configured [5 50 500]", bounds)
	}
}

func TestMetricsDisabled(t *testing.T) {
	cases := []struct {
		name   string
		config string
		args   []string
	}{
		{"--enable-metrics=false", "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: c\nspec: {}\n", []string{"--enable-metrics=false"}},
		{"configuration metrics.enabled false", "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: c\nspec:\n  metrics:\n    enabled: false\n", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, mport := startWithMetrics(t, 0, tc.config, tc.args...)
			if r := call(t, "GET", s.url("/v1.0/state/store/a"), "", nil); r.status != 204 {
				t.Fatalf("get state: %d", r.status)
			}
			conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(mport), time.Second)
			if err == nil {
				conn.Close()
				t.Fatal("the metrics port is open with metrics disabled")
			}
		})
	}
}

// finiteBounds are the bucket bounds of a histogram family's first series,
// without the +Inf bucket the text format adds.
func finiteBounds(f *dto.MetricFamily) []float64 {
	var out []float64
	for _, b := range f.GetMetric()[0].GetHistogram().GetBucket() {
		if !math.IsInf(b.GetUpperBound(), 1) {
			out = append(out, b.GetUpperBound())
		}
	}
	return out
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
