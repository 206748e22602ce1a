// Package ratelimit is middleware.http.ratelimit: a token bucket per caller
// IP allowing maxRequestsPerSecond (default 100) requests per second, with
// a burst of the same size; excess requests get 429 Too Many Requests.
// Limits are per sidecar, not cluster-wide.
package ratelimit

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/outrigger/outrigger/internal/middleware"
)

func init() {
	middleware.Registry.Register("middleware.http.ratelimit", func() middleware.Middleware { return New() })
}

const (
	defaultMaxRequestsPerSecond = 100
	// Body of the 429 answer, as Dapr's limiter writes it.
	limitMessage = "You have reached maximum request limit."
	// maxClients bounds the per-IP state; past it idle entries are swept
	// and, if the table is still full, arbitrary ones dropped (those
	// callers simply start with a full bucket again).
	maxClients = 100_000
	// idleTTL: a bucket untouched this long is full again, so forgetting it
	// changes nothing for the caller.
	idleTTL       = time.Minute
	sweepInterval = time.Minute
)

// Limiter limits requests per caller IP.
type Limiter struct {
	limit      rate.Limit
	burst      int
	now        func() time.Time
	maxClients int

	mu        sync.Mutex
	clients   map[string]*client
	lastSweep time.Time
}

type client struct {
	lim      *rate.Limiter
	lastSeen time.Time
}

// New returns an uninitialised limiter (Init sets the rate).
func New() *Limiter {
	return &Limiter{clients: map[string]*client{}, now: time.Now, maxClients: maxClients}
}

// Init reads maxRequestsPerSecond (a positive number).
func (l *Limiter) Init(_ context.Context, md middleware.Metadata) error {
	rps, err := md.Float(defaultMaxRequestsPerSecond, "maxRequestsPerSecond")
	if err != nil {
		return err
	}
	if rps <= 0 || math.IsInf(rps, 0) || math.IsNaN(rps) {
		return fmt.Errorf("metadata property maxRequestsPerSecond must be a positive value, got %v", rps)
	}
	l.limit = rate.Limit(rps)
	l.burst = int(math.Max(1, rps))
	return nil
}

func (l *Limiter) Close() error { return nil }

func (l *Limiter) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !l.allow(ClientIP(r)) {
			w.Header().Set("X-Rate-Limit-Limit", strconv.FormatFloat(float64(l.limit), 'f', -1, 64))
			w.Header().Set("X-Rate-Limit-Duration", "1")
			middleware.RespondText(w, http.StatusTooManyRequests, limitMessage)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// allow takes one token from key's bucket.
func (l *Limiter) allow(key string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.clients[key]
	if c == nil {
		l.makeRoom(now)
		c = &client{lim: rate.NewLimiter(l.limit, l.burst)}
		l.clients[key] = c
	}
	c.lastSeen = now
	return c.lim.AllowN(now, 1)
}

// makeRoom sweeps idle entries once per sweepInterval, or at once when the
// table is full; a table still full after the sweep drops an arbitrary
// entry. Sweeping on the request path keeps the limiter free of goroutines.
func (l *Limiter) makeRoom(now time.Time) {
	full := len(l.clients) >= l.maxClients
	if !full && now.Sub(l.lastSweep) < sweepInterval {
		return
	}
	l.lastSweep = now
	for k, c := range l.clients {
		if now.Sub(c.lastSeen) > idleTTL {
			delete(l.clients, k)
		}
	}
	for k := range l.clients {
		if len(l.clients) < l.maxClients {
			break
		}
		delete(l.clients, k)
	}
}

// trackedClients returns how many callers are tracked (for tests).
func (l *Limiter) trackedClients() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

// ClientIP identifies the caller as Dapr documents: the X-Forwarded-For
// header (its last entry, the one added by the nearest proxy), else
// X-Real-IP, else the connection's remote address. Requests without any
// (e.g. the sidecar's own calls to the app) share one bucket.
func ClientIP(r *http.Request) string {
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		parts := strings.Split(xff[len(xff)-1], ",")
		if ip := canonical(parts[len(parts)-1]); ip != "" {
			return ip
		}
	}
	if ip := canonical(r.Header.Get("X-Real-IP")); ip != "" {
		return ip
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip := canonical(host); ip != "" {
		return ip
	}
	return "0.0.0.0"
}

// canonical normalises an IP so that ::ffff:1.2.3.4 and 1.2.3.4 share a
// bucket; anything unparsable is "".
func canonical(s string) string {
	ip := net.ParseIP(strings.TrimSpace(s))
	if ip == nil {
		return ""
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	return ip.String()
}
