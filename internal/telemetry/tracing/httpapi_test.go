package tracing

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// seen records what the handler behind the middleware got.
type seen struct {
	header string            // the request's traceparent header
	sc     trace.SpanContext // the request context's trace
}

func serve(t *testing.T, p *Provider, method, target string, header map[string]string, status int) (*httptest.ResponseRecorder, seen) {
	t.Helper()
	var s seen
	h := p.HTTPMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.header = r.Header.Get("traceparent")
		s.sc = SpanContext(r.Context())
		w.WriteHeader(status)
	}))
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec, s
}

func TestHTTPMiddlewareDisabledPassesContextThrough(t *testing.T) {
	for _, p := range []*Provider{nil, {}} {
		rec, s := serve(t, p, http.MethodPost, "/v1.0/invoke/b/method/x", map[string]string{"traceparent": sampledParent, "tracestate": "k=v"}, 200)
		if s.header != sampledParent || FormatTraceparent(s.sc) != sampledParent || s.sc.TraceState().String() != "k=v" {
			t.Errorf("handler saw header %q, context %s; want the incoming context unchanged", s.header, FormatTraceparent(s.sc))
		}
		if got := rec.Header().Get("traceparent"); got != sampledParent {
			t.Errorf("response traceparent %q, want the incoming one", got)
		}
		rec, s = serve(t, p, http.MethodGet, "/v1.0/state/s/k", nil, 204)
		if s.sc.IsValid() || rec.Header().Get("traceparent") != ZeroTraceparent {
			t.Errorf("untraced request: context %s, response %q; want none and the all-zero traceparent", FormatTraceparent(s.sc), rec.Header().Get("traceparent"))
		}
	}
}

func TestHTTPMiddlewareInvokeSpan(t *testing.T) {
	p, rec := recording(t, 1)
	resp, s := serve(t, p, http.MethodPost, "/v1.0/invoke/appb/method/orders/1", map[string]string{"traceparent": sampledParent}, 500)

	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	sp := spans[0]
	if sp.Name() != "CallLocal/appb/orders/1" || sp.SpanKind() != trace.SpanKindClient {
		t.Errorf("span %q kind %v", sp.Name(), sp.SpanKind())
	}
	parent, _ := ParseTraceparent(sampledParent)
	if sp.Parent().SpanID() != parent.SpanID() || sp.SpanContext().TraceID() != parent.TraceID() {
		t.Errorf("span parent %s, want the caller's span", sp.Parent().SpanID())
	}
	if want := FormatTraceparent(sp.SpanContext()); s.header != want || resp.Header().Get("traceparent") != want || !s.sc.Equal(sp.SpanContext()) {
		t.Errorf("handler header %q, response %q, want the span's %s", s.header, resp.Header().Get("traceparent"), want)
	}
	for k, want := range map[string]string{
		"rpc.service": "ServiceInvocation", "net.peer.name": "appb", "dapr.protocol": "http",
		"dapr.api": "POST /v1.0/invoke/appb/method/orders/1", "dapr.status_code": "500",
	} {
		if got := attr(sp, k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if sp.Status().Code.String() != "Error" {
		t.Errorf("a 500 must mark the span failed: %v", sp.Status())
	}
}

func TestHTTPMiddlewareAttributes(t *testing.T) {
	tests := []struct {
		target string
		name   string
		attrs  map[string]string
	}{
		{"/v1.0/state/mystore/k1", "/v1.0/state/mystore/k1", map[string]string{"db.system": "state", "db.name": "mystore", "db.statement": "GET /v1.0/state/mystore/k1"}},
		{"/v1.0/publish/ps/orders", "/v1.0/publish/ps/orders", map[string]string{"messaging.system": "pubsub", "messaging.destination": "orders", "messaging.destination_kind": "topic"}},
		{"/v1.0/bindings/out", "/v1.0/bindings/out", map[string]string{"db.system": "bindings", "db.name": "out"}},
		{"/v1.0/secrets/vault/s1", "/v1.0/secrets/vault/s1", map[string]string{"db.system": "secrets", "db.name": "vault"}},
		{"/v1.0/actors/Cart/c1/method/add", "CallActor/Cart/add", map[string]string{"dapr.actor": "Cart.c1", "rpc.service": "ServiceInvocation"}},
		{"/v1.0/actors/Cart/c1/state/k", "/v1.0/actors/Cart/c1/state/k", map[string]string{"db.system": "state", "db.name": "actor"}},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			p, rec := recording(t, 1)
			serve(t, p, http.MethodGet, tt.target, nil, 200)
			spans := rec.Ended()
			if len(spans) != 1 || spans[0].Name() != tt.name {
				t.Fatalf("spans %v, want one named %q", spans, tt.name)
			}
			if spans[0].Parent().IsValid() {
				t.Error("a request without traceparent starts a new trace")
			}
			for k, want := range tt.attrs {
				if got := attr(spans[0], k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestHTTPMiddlewareSkipsHealthAndUnsampledParents(t *testing.T) {
	p, rec := recording(t, 1)
	serve(t, p, http.MethodGet, "/v1.0/healthz", nil, 204)
	if n := len(rec.Ended()); n != 0 {
		t.Errorf("health checks are not traced, got %d spans", n)
	}
	// Parent-based sampling: a caller that did not sample is followed.
	resp, s := serve(t, p, http.MethodGet, "/v1.0/state/s/k", map[string]string{"traceparent": unsampledParent}, 200)
	if n := len(rec.Ended()); n != 0 {
		t.Errorf("unsampled parent: %d spans recorded", n)
	}
	parent, _ := ParseTraceparent(unsampledParent)
	if s.sc.TraceID() != parent.TraceID() || s.sc.IsSampled() || resp.Header().Get("traceparent") == ZeroTraceparent {
		t.Errorf("unsampled request keeps its trace id unsampled: %s", FormatTraceparent(s.sc))
	}
}

func TestHTTPMiddlewareKeepsHandlerTraceparent(t *testing.T) {
	h := (*Provider)(nil).HTTPMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("traceparent", unsampledParent) // relayed from an invoked app
		_, _ = w.Write([]byte("ok"))
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1.0/invoke/a/method/m", nil))
	if got := rec.Header().Values("traceparent"); len(got) != 1 || got[0] != unsampledParent {
		t.Errorf("traceparent %v, want only the handler's", got)
	}
}
