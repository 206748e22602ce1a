package http

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/outrigger/outrigger/internal/invoke"
)

// invokeTarget finds the app id and method of a service invocation, in
// Dapr's order: the dapr-app-id header (on any path), Basic auth with the
// user "dapr-app-id", then the /v1.0/invoke/{id}/method/{method} path. ok is
// false when the request names no app.
func invokeTarget(r *http.Request) (appID, method string, ok bool, err error) {
	cleaned := strings.TrimPrefix(path.Clean("/"+r.URL.EscapedPath()), "/")
	if id := r.Header.Get("dapr-app-id"); id != "" {
		r.Header.Del("dapr-app-id")
		m, err := url.PathUnescape(cleaned)
		return id, m, true, err
	}
	if id, found := basicAuthAppID(r); found {
		m, err := url.PathUnescape(cleaned)
		return id, m, true, err
	}
	return invokePathTarget(r.URL.EscapedPath())
}

// basicAuthAppID reads `Authorization: Basic base64("dapr-app-id:<id>")`.
func basicAuthAppID(r *http.Request) (string, bool) {
	auth := r.Header.Get("Authorization")
	const prefix = "Basic "
	if len(auth) <= len(prefix) || !strings.EqualFold(auth[:len(prefix)], prefix) {
		return "", false
	}
	raw, err := base64.StdEncoding.DecodeString(auth[len(prefix):])
	if err != nil {
		return "", false
	}
	user, id, found := strings.Cut(string(raw), ":")
	if !found || user != "dapr-app-id" || id == "" {
		return "", false
	}
	return id, true
}

// invokePathTarget parses /v1.0/invoke/{id}/method/{method...} from the raw
// (escaped) path: the id is URL-unescaped (it may be a full URL), and the
// method is everything after the first "/method/", cleaned.
func invokePathTarget(escaped string) (appID, method string, ok bool, err error) {
	const prefix = "/v1.0/invoke/"
	p := escaped
	if !strings.HasPrefix(p, prefix) {
		p = path.Clean("/" + p)
		if !strings.HasPrefix(p, prefix) {
			return "", "", false, nil
		}
	}
	rest := p[len(prefix):]
	idPart, methodPart, found := strings.Cut(rest, "/method")
	if !found || idPart == "" {
		return "", "", false, nil
	}
	// ".../method" alone names no method: daprd's route needs the slash
	// (".../method/" is the app's root).
	if methodPart == "" || methodPart[0] != '/' {
		return "", "", false, nil
	}
	appID, err = url.QueryUnescape(idPart)
	if err != nil {
		return "", "", true, err
	}
	method, err = normalizeMethod(methodPart)
	return appID, method, true, err
}

// normalizeMethod unescapes the method path and cleans it as daprd does.
func normalizeMethod(escaped string) (string, error) {
	m, err := url.PathUnescape(escaped)
	if err != nil {
		return "", err
	}
	return invoke.NormalizeMethod(m)
}
