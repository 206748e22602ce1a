// Package oauth2clientcredentials is middleware.http.oauth2clientcredentials:
// it obtains an access token with the OAuth2 client credentials grant and
// adds it to every request (optionally only to paths matching pathFilter)
// in the headerName header as "<type> <token>". The token is cached until
// shortly before it expires.
package oauth2clientcredentials

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/outrigger/outrigger/internal/middleware"
)

func init() {
	middleware.Registry.Register("middleware.http.oauth2clientcredentials", func() middleware.Middleware { return &ClientCredentials{} })
}

// ClientCredentials adds a client-credentials access token to requests.
type ClientCredentials struct {
	header     string
	pathFilter *regexp.Regexp
	tokens     oauth2.TokenSource
	log        *slog.Logger
}

// Init reads clientID, clientSecret, scopes (comma-separated), tokenURL
// and headerName (all required), endpointParamsQuery, authStyle (0 auto,
// 1 in the body, 2 basic auth) and pathFilter.
func (c *ClientCredentials) Init(_ context.Context, md middleware.Metadata) error {
	req, err := md.RequiredAll("clientID", "clientSecret", "tokenURL", "scopes", "headerName")
	if err != nil {
		return err
	}
	conf := &clientcredentials.Config{
		ClientID: req[0], ClientSecret: req[1], TokenURL: req[2], Scopes: md.List("scopes"),
	}
	c.header = req[4]
	params, err := url.ParseQuery(md.String("", "endpointParamsQuery"))
	if err != nil {
		return fmt.Errorf("endpointParamsQuery: %w", err)
	}
	conf.EndpointParams = params
	style, err := md.Int(0, "authStyle")
	if err != nil {
		return err
	}
	if style < 0 || style > 2 {
		return fmt.Errorf("authStyle can only be 0, 1 or 2, got %d", style)
	}
	conf.AuthStyle = oauth2.AuthStyle(style)
	if c.pathFilter, err = md.Regexp("pathFilter"); err != nil {
		return err
	}
	// The token source outlives Init: it fetches with its own client and
	// caches the token (one per component, i.e. per client and scope set)
	// until 10s before expiry.
	hc := &http.Client{Timeout: 30 * time.Second}
	c.tokens = conf.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, hc))
	if c.log == nil {
		c.log = slog.Default().With("component", md.Name)
	}
	return nil
}

func (c *ClientCredentials) Close() error { return nil }

func (c *ClientCredentials) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.pathFilter != nil && !c.pathFilter.MatchString(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		tok, err := c.tokens.Token()
		if err != nil {
			c.log.Error("oauth2clientcredentials: acquiring a token failed", "error", err)
			middleware.RespondStatus(w, http.StatusInternalServerError)
			return
		}
		r.Header.Add(c.header, tok.Type()+" "+tok.AccessToken)
		next.ServeHTTP(w, r)
	})
}
