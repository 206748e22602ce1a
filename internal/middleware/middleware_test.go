package middleware

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/resources"
)

func TestMetadataLookups(t *testing.T) {
	md := Metadata{Properties: map[string]string{
		"maxRequestsPerSecond": "2.5", "IssuerURL": "https://idp", "flag": "yes", "count": "7", "empty": "",
	}}
	if v, _ := md.Prop("issuer", "issuerURL"); v != "https://idp" {
		t.Errorf("alias, case-insensitive lookup = %q", v)
	}
	if f, err := md.Float(100, "maxrequestspersecond"); err != nil || f != 2.5 {
		t.Errorf("Float = %v, %v", f, err)
	}
	if f, err := md.Float(100, "missing"); err != nil || f != 100 {
		t.Errorf("Float default = %v, %v", f, err)
	}
	if b, err := md.Bool(false, "flag"); err != nil || !b {
		t.Errorf("Bool = %v, %v", b, err)
	}
	if n, err := md.Int(0, "count"); err != nil || n != 7 {
		t.Errorf("Int = %v, %v", n, err)
	}
	if _, err := md.Required("empty"); err == nil {
		t.Error("Required accepted an empty value")
	}
	if got := md.String("def", "empty"); got != "def" {
		t.Errorf("String of empty = %q, want the default", got)
	}
	if _, err := md.Int(0, "issuerURL"); err == nil {
		t.Error("Int accepted a URL")
	}
}

// tagger appends its name to a request header and a response header, so
// tests can see the order in which a pipeline runs.
type tagger struct{ name string }

func (t *tagger) Init(context.Context, Metadata) error { return nil }
func (t *tagger) Close() error                         { return nil }
func (t *tagger) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Add("X-Order", t.name)
		w.Header().Add("X-Seen-By", t.name)
		next.ServeHTTP(w, r)
	})
}

func comps(names ...string) []*Component {
	var out []*Component
	for _, n := range names {
		out = append(out, &Component{Name: n, Type: "middleware.http.tag", Version: "v1", Middleware: &tagger{name: n}})
	}
	return out
}

func TestPipelineRunsHandlersInConfigurationOrder(t *testing.T) {
	spec := resources.PipelineSpec{Handlers: []resources.HandlerSpec{
		{Name: "second", Type: "middleware.http.tag"},
		{Name: "first", Type: "middleware.http.tag", Version: "v1"},
		{Name: "third", Type: "middleware.http.TAG"},
	}}
	p, err := Build("httpPipeline", spec, comps("first", "second", "third"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Join(r.Header.Values("X-Order"), ","))
	})))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "second,first,third" {
		t.Errorf("order = %q, want second,first,third", body)
	}
	if got := strings.Join(p.Names(), ","); got != "second,first,third" {
		t.Errorf("Names = %q", got)
	}
}

func TestPipelineBuildErrors(t *testing.T) {
	tests := []struct {
		name    string
		handler resources.HandlerSpec
		want    string
	}{
		{"unknown name", resources.HandlerSpec{Name: "nope", Type: "middleware.http.tag"}, `appHttpPipeline.handlers[0]: no middleware component named "nope" of type middleware.http.tag/v1`},
		{"wrong type", resources.HandlerSpec{Name: "first", Type: "middleware.http.other"}, `no middleware component named "first" of type middleware.http.other/v1`},
		{"wrong version", resources.HandlerSpec{Name: "first", Type: "middleware.http.tag", Version: "v2"}, `of type middleware.http.tag/v2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build("appHttpPipeline", resources.PipelineSpec{Handlers: []resources.HandlerSpec{tt.handler}}, comps("first"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestEmptyPipeline(t *testing.T) {
	p, err := Build("httpPipeline", resources.PipelineSpec{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Empty() || p.WrapFunc() != nil {
		t.Error("an empty pipeline should report Empty and have no WrapFunc")
	}
	h := http.NotFoundHandler()
	rec := httptest.NewRecorder()
	p.Wrap(h).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("Wrap of empty pipeline changed the handler: %d", rec.Code)
	}
}

func TestMetadataRequiredAllListRegexp(t *testing.T) {
	md := Metadata{Properties: map[string]string{
		"a": "1", "Scopes": " read, ,write ", "filter": "^/api", "bad": "(",
	}}
	vals, err := md.RequiredAll("a")
	if err != nil || len(vals) != 1 || vals[0] != "1" {
		t.Fatalf("RequiredAll(a) = %v, %v", vals, err)
	}
	if _, err := md.RequiredAll("a", "b", "c"); err == nil || !strings.Contains(err.Error(), "b, c") {
		t.Fatalf("RequiredAll missing b and c: error %v, want both named", err)
	}
	if got := md.List("scopes"); len(got) != 2 || got[0] != "read" || got[1] != "write" {
		t.Fatalf("List(scopes) = %q", got)
	}
	if got := md.List("absent"); got != nil {
		t.Fatalf("List(absent) = %q, want nil", got)
	}
	re, err := md.Regexp("filter")
	if err != nil || re == nil || !re.MatchString("/api/x") {
		t.Fatalf("Regexp(filter) = %v, %v", re, err)
	}
	if re, err := md.Regexp("absent"); re != nil || err != nil {
		t.Fatalf("Regexp(absent) = %v, %v; want nil, nil", re, err)
	}
	if _, err := md.Regexp("bad"); err == nil {
		t.Fatal("Regexp(bad) compiled an invalid expression")
	}
}
