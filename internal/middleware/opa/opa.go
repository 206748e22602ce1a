// Package opa is middleware.http.opa: every request is decided by a Rego
// policy (package http, rule allow). allow is either a boolean or an
// object {allow, status_code, additional_headers}: a denied request gets
// status_code (default defaultStatus, 403) and the additional headers on
// the response; an allowed one carries the additional headers on to the
// app. The policy sees input.request with method, path, path_parts,
// raw_query, query, scheme, the headers listed in includedHeaders, and the
// body when readBody is set.
package opa

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/outrigger/outrigger/internal/middleware"
)

func init() {
	middleware.Registry.Register("middleware.http.opa", func() middleware.Middleware { return &Policy{} })
}

// errorHeader marks answers caused by a policy that failed to evaluate.
const errorHeader = "x-dapr-opa-error"

// Policy evaluates a Rego policy per request.
type Policy struct {
	query         rego.PreparedEvalQuery
	defaultStatus int
	headers       []string // canonical names of included headers
	readBody      bool
	log           *slog.Logger
}

// Init compiles rego (required) and reads defaultStatus, includedHeaders
// and readBody.
func (p *Policy) Init(ctx context.Context, md middleware.Metadata) error {
	src, err := md.Required("rego")
	if err != nil {
		return err
	}
	if p.defaultStatus, err = md.Int(http.StatusForbidden, "defaultStatus"); err != nil {
		return err
	}
	if p.defaultStatus < 100 || p.defaultStatus > 599 {
		return fmt.Errorf("defaultStatus %d is not an HTTP status", p.defaultStatus)
	}
	if p.readBody, err = md.Bool(false, "readBody"); err != nil {
		return err
	}
	for _, h := range md.List("includedHeaders") {
		p.headers = append(p.headers, http.CanonicalHeaderKey(h))
	}
	if p.query, err = prepare(ctx, src); err != nil {
		return err
	}
	p.log = slog.Default().With("component", md.Name)
	return nil
}

// prepare compiles the policy. Dapr's documented policies use the original
// Rego syntax ("allow = {...} { ... }"), so that is tried first; a policy
// in Rego v1 syntax ("allow if { ... }") is accepted too.
func prepare(ctx context.Context, src string) (rego.PreparedEvalQuery, error) {
	compile := func(v ast.RegoVersion) (rego.PreparedEvalQuery, error) {
		return rego.New(
			rego.Query("result = data.http.allow"),
			rego.Module("inline.rego", src),
			rego.SetRegoVersion(v),
		).PrepareForEval(ctx)
	}
	q, errV0 := compile(ast.RegoV0)
	if errV0 == nil {
		return q, nil
	}
	if q, err := compile(ast.RegoV1); err == nil {
		return q, nil
	}
	return rego.PreparedEvalQuery{}, fmt.Errorf("compiling the rego policy: %w", errV0)
}

func (p *Policy) Close() error { return nil }

func (p *Policy) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.decide(w, r) {
			next.ServeHTTP(w, r)
		}
	})
}

// result is the object form of data.http.allow.
type result struct {
	Allow             bool              `json:"allow"`
	StatusCode        int               `json:"status_code"`
	AdditionalHeaders map[string]string `json:"additional_headers"`
}

// decide evaluates the policy; it answers the request itself and returns
// false when the request must not go on.
func (p *Policy) decide(w http.ResponseWriter, r *http.Request) bool {
	input, err := p.input(r)
	if err != nil {
		p.fail(w, err)
		return false
	}
	rs, err := p.query.Eval(r.Context(), rego.EvalInput(input))
	if err != nil {
		p.fail(w, err)
		return false
	}
	if len(rs) == 0 {
		p.fail(w, errors.New("the policy gave no result; does it define data.http.allow?"))
		return false
	}
	switch v := rs[0].Bindings["result"].(type) {
	case bool:
		if !v {
			middleware.RespondStatus(w, p.defaultStatus)
		}
		return v
	case map[string]any:
		res, err := decode(v, p.defaultStatus)
		if err != nil {
			p.fail(w, err)
			return false
		}
		if res.Allow {
			for k, val := range res.AdditionalHeaders {
				r.Header.Set(k, val)
			}
			return true
		}
		for k, val := range res.AdditionalHeaders {
			w.Header().Set(k, val)
		}
		middleware.RespondStatus(w, res.StatusCode)
		return false
	default:
		p.fail(w, fmt.Errorf("data.http.allow is a %T; want a boolean or an object", v))
		return false
	}
}

func decode(v map[string]any, defaultStatus int) (result, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return result{}, err
	}
	res := result{StatusCode: defaultStatus}
	if err := json.Unmarshal(b, &res); err != nil {
		return result{}, fmt.Errorf("data.http.allow: %w", err)
	}
	if res.StatusCode < 100 || res.StatusCode > 599 {
		return result{}, fmt.Errorf("data.http.allow: status_code %d is not an HTTP status", res.StatusCode)
	}
	return res, nil
}

// fail answers with the default status when the policy cannot decide:
// an error in the policy denies rather than lets the request through.
func (p *Policy) fail(w http.ResponseWriter, err error) {
	p.log.Warn("opa: evaluating the policy failed", "error", err)
	w.Header().Set(errorHeader, "true")
	middleware.RespondStatus(w, p.defaultStatus)
}

// input is the document the policy sees as input.
func (p *Policy) input(r *http.Request) (map[string]any, error) {
	headers := map[string]any{}
	for _, h := range p.headers {
		if v := r.Header.Values(h); len(v) > 0 {
			headers[h] = strings.Join(v, ", ")
		}
	}
	query := map[string]any{}
	for k, vs := range r.URL.Query() {
		list := make([]any, len(vs))
		for i, v := range vs {
			list[i] = v
		}
		query[k] = list
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	pathParts := make([]any, len(parts))
	for i, s := range parts {
		pathParts[i] = s
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	req := map[string]any{
		"method": r.Method, "path": r.URL.Path, "path_parts": pathParts,
		"raw_query": r.URL.RawQuery, "query": query, "headers": headers, "scheme": scheme,
	}
	if p.readBody && r.Body != nil {
		body, err := io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("reading the request body: %w", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		req["body"] = string(body)
	}
	return map[string]any{"request": req}, nil
}
