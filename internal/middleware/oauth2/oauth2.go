// Package oauth2 is middleware.http.oauth2: the OAuth2 authorization code
// flow in front of an API. A request without a logged-in session is
// redirected to the authorization server; the server sends the browser
// back to redirectURL (which must reach this middleware) with a code and
// the state, the code is exchanged for a token, and the browser returns to
// the page it first asked for. From then on the session's token is added
// to requests in authHeaderName. Sessions live in memory, keyed by a
// random cookie.
package oauth2

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"golang.org/x/oauth2"

	"github.com/outrigger/outrigger/internal/middleware"
)

func init() {
	middleware.Registry.Register("middleware.http.oauth2", func() middleware.Middleware { return &AuthCode{} })
}

const (
	cookieName = "_dapr_oauth2"
	// loginTTL bounds an unfinished login; sessionTTL a session whose
	// token carries no expiry.
	loginTTL    = 10 * time.Minute
	sessionTTL  = time.Hour
	maxSessions = 100_000
)

// AuthCode runs the authorization code flow.
type AuthCode struct {
	conf       *oauth2.Config
	header     string
	forceHTTPS bool
	pathFilter *regexp.Regexp
	client     *http.Client
	sessions   *sessions
	now        func() time.Time
	log        *slog.Logger
}

// Init reads clientID, clientSecret, authURL, tokenURL (required), scopes
// (comma-separated), redirectURL, authHeaderName (Authorization),
// forceHTTPS and pathFilter.
func (a *AuthCode) Init(_ context.Context, md middleware.Metadata) error {
	req, err := md.RequiredAll("clientID", "clientSecret", "authURL", "tokenURL")
	if err != nil {
		return err
	}
	a.conf = &oauth2.Config{
		ClientID: req[0], ClientSecret: req[1],
		Endpoint:    oauth2.Endpoint{AuthURL: req[2], TokenURL: req[3]},
		RedirectURL: md.String("", "redirectURL"),
		Scopes:      md.List("scopes"),
	}
	a.header = md.String("Authorization", "authHeaderName")
	if a.forceHTTPS, err = md.Bool(false, "forceHTTPS"); err != nil {
		return err
	}
	if a.pathFilter, err = md.Regexp("pathFilter"); err != nil {
		return err
	}
	if a.client == nil {
		a.client = &http.Client{Timeout: 30 * time.Second}
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.sessions = newSessions(maxSessions)
	a.log = slog.Default().With("component", md.Name)
	return nil
}

func (a *AuthCode) Close() error { return nil }

func (a *AuthCode) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.pathFilter != nil && !a.pathFilter.MatchString(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		id, ss, ok := a.session(r)
		if ok && ss.auth != "" {
			r.Header.Set(a.header, ss.auth)
			next.ServeHTTP(w, r)
			return
		}
		if state := r.URL.Query().Get("state"); state != "" {
			a.callback(w, r, id, ss, ok, state)
			return
		}
		a.login(w, r)
	})
}

func (a *AuthCode) session(r *http.Request) (string, session, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return "", session{}, false
	}
	ss, ok := a.sessions.get(c.Value, a.now())
	return c.Value, ss, ok
}

// login starts the flow: a new session remembers the state and the page
// asked for, and the browser goes to the authorization server.
func (a *AuthCode) login(w http.ResponseWriter, r *http.Request) {
	now := a.now()
	id, state := newID(), newID()
	a.sessions.put(id, session{state: state, returnTo: a.returnURL(r), expires: now.Add(loginTTL)}, now)
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: id, Path: "/", HttpOnly: true,
		Secure: a.forceHTTPS || r.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
	http.Redirect(w, r, a.conf.AuthCodeURL(state, oauth2.AccessTypeOffline), http.StatusFound)
}

// callback finishes the flow on the redirect back from the server.
func (a *AuthCode) callback(w http.ResponseWriter, r *http.Request, id string, ss session, ok bool, state string) {
	code := r.URL.Query().Get("code")
	if code == "" {
		middleware.RespondText(w, http.StatusBadRequest, "code not found")
		return
	}
	if !ok || ss.state == "" || ss.state != state {
		middleware.RespondText(w, http.StatusBadRequest, "invalid state")
		return
	}
	ctx := context.WithValue(r.Context(), oauth2.HTTPClient, a.client)
	tok, err := a.conf.Exchange(ctx, code)
	if err != nil {
		a.log.Error("oauth2: exchanging the authorization code failed", "error", err)
		middleware.RespondText(w, http.StatusInternalServerError, "error exchanging token")
		return
	}
	now := a.now()
	expires := now.Add(sessionTTL)
	if !tok.Expiry.IsZero() {
		expires = tok.Expiry
	}
	a.sessions.put(id, session{auth: tok.Type() + " " + tok.AccessToken, expires: expires}, now)
	to := ss.returnTo
	if to == "" {
		to = "/"
	}
	http.Redirect(w, r, to, http.StatusFound)
}

// returnURL is the page to come back to after login: the request's own
// URL, absolute, with https when forceHTTPS is set.
func (a *AuthCode) returnURL(r *http.Request) string {
	u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	if r.TLS != nil || a.forceHTTPS {
		u.Scheme = "https"
	}
	if u.Host == "" {
		return u.RequestURI()
	}
	return u.String()
}
