package h1client

import (
	"net/http"
	"net/url"
	"strings"
)

// Do sends req through rt as an http.Client with no cookie jar, no
// timeout and redirects handed back to the caller would: the round trip,
// and on failure the same *url.Error ("Post \"http://…\": …"). The client
// itself would copy the request's headers and URL on every call, for
// redirects, which these callers never follow.
func Do(rt http.RoundTripper, req *http.Request) (*http.Response, error) {
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return nil, &url.Error{Op: methodOp(req.Method), URL: errorURL(req.URL), Err: err}
	}
	return resp, nil
}

// CloseIdleConnections closes rt's idle connections, if it keeps any.
func CloseIdleConnections(rt http.RoundTripper) {
	if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// methodOp is the method as http.Client names it in errors: "Get", "Post".
func methodOp(method string) string {
	if method == "" {
		return "Get"
	}
	return method[:1] + strings.ToLower(method[1:])
}

// errorURL is the URL as http.Client shows it in errors, a password
// replaced by "***".
func errorURL(u *url.URL) string {
	s := u.String()
	if _, ok := u.User.Password(); ok {
		return strings.Replace(s, u.User.String()+"@", u.User.Username()+":***@", 1)
	}
	return s
}
