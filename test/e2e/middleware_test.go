package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mwConfig writes a Configuration with the given httpPipeline and
// appHttpPipeline handlers ("name:type" each) and returns its path.
func mwConfig(t *testing.T, api, app []string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: pipelines\nspec:\n")
	for _, p := range []struct {
		key      string
		handlers []string
	}{{"httpPipeline", api}, {"appHttpPipeline", app}} {
		if len(p.handlers) == 0 {
			continue
		}
		b.WriteString("  " + p.key + ":\n    handlers:\n")
		for _, h := range p.handlers {
			name, typ, _ := strings.Cut(h, ":")
			b.WriteString("    - name: " + name + "\n      type: " + typ + "\n")
		}
	}
	dir := t.TempDir()
	writeFile(t, dir, "config.yaml", b.String())
	return filepath.Join(dir, "config.yaml")
}

// TestMiddlewareRateLimit: with a ratelimit middleware in the httpPipeline
// the Dapr API answers 429 past the limit, with Dapr's body.
func TestMiddlewareRateLimit(t *testing.T) {
	dir := blkResources(t, memoryComponent("store"),
		blkComponent("limit", "middleware.http.ratelimit", map[string]string{"maxRequestsPerSecond": "2"}))
	cfg := mwConfig(t, []string{"limit:middleware.http.ratelimit"}, nil)
	s := blkStart(t, blkSidecar{appID: blkUnique("mwrl"), resources: dir, config: cfg})[0]

	// The harness's health polling may have spent the bucket: let it
	// refill (2 tokens at 2/s) before the burst.
	time.Sleep(1100 * time.Millisecond)
	// A burst well past 2/s: some pass, then 429. No timing assumption
	// beyond 40 requests taking less than 20 seconds.
	var ok, limited int
	var limitedBody string
	for range 40 {
		r := blkCall(t, "GET", s.url("/v1.0/state/store/k"), "")
		switch r.status {
		case 204:
			ok++
		case 429:
			limited++
			limitedBody = string(r.body)
		default:
			t.Fatalf("unexpected status %d %s", r.status, r.body)
		}
	}
	if ok == 0 || limited == 0 {
		t.Fatalf("%d passed and %d were limited, want both", ok, limited)
	}
	if limitedBody != "You have reached maximum request limit." {
		t.Errorf("429 body = %q", limitedBody)
	}
	// The bucket refills: a request passes again once the caller waits.
	if !blkWaitFor(10*time.Second, func() bool { return blkCall(t, "GET", s.url("/v1.0/state/store/k"), "").status == 204 }) {
		t.Error("requests stayed limited")
	}
}

// TestMiddlewarePipelines: a routeralias in the httpPipeline maps a custom
// path onto the invocation API, and an uppercase in the appHttpPipeline
// rewrites the body the app receives.
func TestMiddlewarePipelines(t *testing.T) {
	appID := blkUnique("mwapp")
	dir := blkResources(t,
		blkComponent("alias", "middleware.http.routeralias", map[string]string{
			"routes": `{"/greet/{name}": "/v1.0/invoke/` + appID + `/method/hello"}`}),
		blkComponent("upper", "middleware.http.uppercase", nil))
	cfg := mwConfig(t, []string{"alias:middleware.http.routeralias"}, []string{"upper:middleware.http.uppercase"})
	app := httpApp(t, echoApp(appID))
	s := blkStart(t, blkSidecar{appID: appID, resources: dir, config: cfg, appPort: app})[0]

	e := decodeEcho(t, call(t, "POST", s.url("/greet/ada?x=1"), "hello there", map[string]string{"Content-Type": "text/plain"}))
	if e.Path != "/hello" || !strings.Contains(e.RawQuery, "name=ada") || !strings.Contains(e.RawQuery, "x=1") {
		t.Errorf("app saw %s?%s, want /hello with name=ada and x=1", e.Path, e.RawQuery)
	}
	if e.Body != "HELLO THERE" {
		t.Errorf("app saw body %q, want the appHttpPipeline to upper-case it", e.Body)
	}
	// The plain invocation route goes through the app pipeline too.
	e = decodeEcho(t, call(t, "POST", s.url("/v1.0/invoke/"+appID+"/method/direct"), "abc", nil))
	if e.Path != "/direct" || e.Body != "ABC" {
		t.Errorf("direct invocation: app saw %s %q, want /direct \"ABC\"", e.Path, e.Body)
	}
	// Middleware components are listed by the metadata API.
	r := call(t, "GET", s.url("/v1.0/metadata"), "", nil)
	if !strings.Contains(string(r.body), `"middleware.http.uppercase"`) {
		t.Errorf("metadata does not list the middleware: %s", r.body)
	}
}

// TestMiddlewareMissingComponent: a pipeline naming a component that does
// not exist stops the sidecar with a clear message.
func TestMiddlewareMissingComponent(t *testing.T) {
	dir := blkResources(t, memoryComponent("store"))
	cfg := mwConfig(t, []string{"ghost:middleware.http.ratelimit"}, nil)
	s := blkLaunch(t, blkSidecar{appID: blkUnique("mwmiss"), resources: dir, config: cfg})
	if code := s.exitCode(t, 20*time.Second); code == 0 {
		t.Fatal("sidecar started with a pipeline naming a missing component")
	}
	if out := s.out.String(); !strings.Contains(out, `httpPipeline.handlers[0]: no middleware component named \"ghost\"`) &&
		!strings.Contains(out, `httpPipeline.handlers[0]: no middleware component named "ghost"`) {
		t.Errorf("output does not explain the failure:\n%s", out)
	}
}

// TestMiddlewareOPA: a Rego policy in the httpPipeline decides per request.
func TestMiddlewareOPA(t *testing.T) {
	policy := `package http

default allow = true

allow = {"status_code": 418, "additional_headers": {"x-policy": "no secrets"}} {
	input.request.path_parts[1] == "secrets"
}
`
	dir := blkResources(t, memoryComponent("store"),
		blkComponent("policy", "middleware.http.opa", map[string]string{"rego": policy}))
	cfg := mwConfig(t, []string{"policy:middleware.http.opa"}, nil)
	s := blkStart(t, blkSidecar{appID: blkUnique("mwopa"), resources: dir, config: cfg})[0]

	if r := blkCall(t, "GET", s.url("/v1.0/state/store/k"), ""); r.status != 204 {
		t.Errorf("allowed route: %d %s", r.status, r.body)
	}
	r := call(t, "GET", s.url("/v1.0/secrets/any/key"), "", nil)
	if r.status != 418 || r.header.Get("X-Policy") != "no secrets" {
		t.Errorf("denied route: %d %q x-policy=%q, want 418 with the policy's header", r.status, r.body, r.header.Get("X-Policy"))
	}
}
