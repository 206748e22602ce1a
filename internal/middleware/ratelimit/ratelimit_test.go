package ratelimit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/middleware"
	mt "github.com/outrigger/outrigger/internal/middleware/middlewaretest"
)

// frozen returns a limiter whose clock only moves when the test says so,
// so no assertion depends on how fast the machine is.
func frozen(t *testing.T, rps string) (*Limiter, *time.Time) {
	t.Helper()
	now := time.Unix(1_700_000_000, 0)
	l := New()
	l.now = func() time.Time { return now }
	props := map[string]string{}
	if rps != "" {
		props["maxRequestsPerSecond"] = rps
	}
	if err := l.Init(context.Background(), middleware.Metadata{Properties: props}); err != nil {
		t.Fatal(err)
	}
	return l, &now
}

func TestRateLimitOverHTTP(t *testing.T) {
	l, now := frozen(t, "3")
	srv := httptest.NewServer(l.Handler(mt.Echo()))
	defer srv.Close()
	get := func(xff string) (int, string, *http.Response) {
		req := mt.NewRequest(t, http.MethodGet, srv.URL+"/v1.0/state/s/k", nil)
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		return mt.Do(t, req)
	}
	for i := range 3 {
		if status, body, _ := get(""); status != http.StatusOK {
			t.Fatalf("request %d within the limit: %d %q", i+1, status, body)
		}
	}
	status, body, resp := get("")
	if status != http.StatusTooManyRequests || body != "You have reached maximum request limit." {
		t.Fatalf("request past the limit: %d %q", status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if got := resp.Header.Get("X-Rate-Limit-Limit"); got != "3" {
		t.Errorf("X-Rate-Limit-Limit = %q", got)
	}
	// Another caller (behind a proxy) has its own bucket.
	if status, _, _ := get("10.0.0.1, 192.0.2.7"); status != http.StatusOK {
		t.Errorf("another client IP was limited: %d", status)
	}
	// A second later the bucket has refilled.
	*now = now.Add(time.Second)
	if status, _, _ := get(""); status != http.StatusOK {
		t.Errorf("after a second: %d, want 200", status)
	}
}

func TestRateLimitBuckets(t *testing.T) {
	tests := []struct {
		name    string
		rps     string
		burst   int     // requests allowed at once
		advance float64 // seconds until one more is allowed
	}{
		{"default is 100", "", 100, 0.01},
		{"fractional rate has a burst of one", "0.5", 1, 2},
		{"integer rate", "10", 10, 0.1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, now := frozen(t, tt.rps)
			for i := range tt.burst {
				if !l.allow("1.2.3.4") {
					t.Fatalf("request %d of the burst refused", i+1)
				}
			}
			if l.allow("1.2.3.4") {
				t.Fatal("request past the burst allowed")
			}
			*now = now.Add(time.Duration(tt.advance * float64(time.Second)))
			if !l.allow("1.2.3.4") {
				t.Fatalf("refused after %vs", tt.advance)
			}
		})
	}
}

func TestRateLimitConfig(t *testing.T) {
	for _, v := range []string{"0", "-1", "abc", "NaN", "+Inf"} {
		err := New().Init(context.Background(), middleware.Metadata{Properties: map[string]string{"maxRequestsPerSecond": v}})
		if err == nil {
			t.Errorf("maxRequestsPerSecond=%q accepted", v)
		}
	}
}

func TestClientIP(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		remote string
		want   string
	}{
		{"remote address", nil, "192.0.2.1:5555", "192.0.2.1"},
		{"x-forwarded-for wins, nearest proxy's entry", http.Header{"X-Forwarded-For": {"203.0.113.9, 198.51.100.2"}}, "127.0.0.1:1", "198.51.100.2"},
		{"x-real-ip", http.Header{"X-Real-Ip": {"198.51.100.3"}}, "127.0.0.1:1", "198.51.100.3"},
		{"bad header falls back", http.Header{"X-Forwarded-For": {"garbage"}}, "[2001:db8::1]:80", "2001:db8::1"},
		{"ipv4-mapped ipv6 shares the ipv4 bucket", nil, "[::ffff:192.0.2.1]:80", "192.0.2.1"},
		{"nothing known", nil, "", "0.0.0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{Header: tt.header, RemoteAddr: tt.remote}
			if r.Header == nil {
				r.Header = http.Header{}
			}
			if got := ClientIP(r); got != tt.want {
				t.Errorf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRateLimitForgetsIdleClients(t *testing.T) {
	l, now := frozen(t, "1")
	for i := range 50 {
		l.allow("10.0.0." + strconv.Itoa(i))
	}
	if n := l.trackedClients(); n != 50 {
		t.Fatalf("tracked = %d, want 50", n)
	}
	*now = now.Add(idleTTL + sweepInterval + time.Second)
	l.allow("10.1.0.1") // a new client triggers the sweep
	if n := l.trackedClients(); n != 1 {
		t.Errorf("after the idle period tracked = %d, want 1", n)
	}
}

func TestRateLimitConcurrent(t *testing.T) {
	l, _ := frozen(t, "50")
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if l.allow("192.0.2.1") {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if allowed != 50 {
		t.Errorf("allowed %d of 160 concurrent requests with a frozen clock, want exactly the burst of 50", allowed)
	}
}

func TestRateLimitTableIsBounded(t *testing.T) {
	l, _ := frozen(t, "1")
	l.maxClients = 10
	for i := range 100 {
		l.allow("10.0.0." + strconv.Itoa(i))
		if n := l.trackedClients(); n > 10 {
			t.Fatalf("tracked %d clients, bound is 10", n)
		}
	}
	// The newest caller is always tracked (and so limited).
	if l.allow("10.0.0.99") {
		t.Error("the newest caller's bucket was dropped")
	}
}

// BenchmarkRateLimitHandler measures the per-request cost in front of a
// trivial handler, spread over many caller IPs.
func BenchmarkRateLimitHandler(b *testing.B) {
	l := New()
	if err := l.Init(context.Background(), middleware.Metadata{Properties: map[string]string{"maxRequestsPerSecond": "1000000"}}); err != nil {
		b.Fatal(err)
	}
	h := l.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	reqs := make([]*http.Request, 256)
	for i := range reqs {
		reqs[i] = httptest.NewRequest(http.MethodGet, "/v1.0/state/s/k", nil)
		reqs[i].RemoteAddr = "10.0." + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250) + ":1234"
	}
	w := httptest.NewRecorder()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		h.ServeHTTP(w, reqs[i%len(reqs)])
	}
}
