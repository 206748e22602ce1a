package nameresolution

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeClock lets tests move time without sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) now() time.Time      { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeClock) add(d time.Duration) { f.mu.Lock(); f.t = f.t.Add(d); f.mu.Unlock() }

func newTestCache() (*Cache, *fakeClock) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	c := NewCache()
	c.now = clk.now
	return c, clk
}

func TestCacheRoundRobinAndExpiry(t *testing.T) {
	tests := []struct {
		name     string
		addrs    []string
		ttl      time.Duration
		advance  time.Duration
		picks    int
		want     []string // expected picks in order; nil = miss
		wantRefr bool
	}{
		{"one address", []string{"a:1"}, time.Second, 0, 3, []string{"a:1", "a:1", "a:1"}, false},
		{"rotates", []string{"a:1", "b:2", "c:3"}, time.Second, 0, 4, []string{"a:1", "b:2", "c:3", "a:1"}, false},
		{"before half-life", []string{"a:1"}, time.Second, 499 * time.Millisecond, 1, []string{"a:1"}, false},
		{"past half-life", []string{"a:1", "b:2"}, time.Second, 500 * time.Millisecond, 2, []string{"a:1", "b:2"}, true},
		{"still valid", []string{"a:1", "b:2"}, time.Second, 999 * time.Millisecond, 2, []string{"a:1", "b:2"}, true},
		{"expired at ttl", []string{"a:1"}, time.Second, time.Second, 1, nil, false},
		{"empty list is a miss", nil, time.Second, 0, 1, nil, false},
		{"zero ttl is a miss", []string{"a:1"}, 0, 0, 1, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clk := newTestCache()
			c.Set("app", tt.addrs, tt.ttl)
			clk.add(tt.advance)
			for i := 0; i < tt.picks; i++ {
				addr, refresh, ok := c.Next("app")
				if tt.want == nil {
					if ok {
						t.Fatalf("Next = %q, want miss", addr)
					}
					return
				}
				if !ok || addr != tt.want[i] {
					t.Fatalf("pick %d = %q, %v; want %q", i, addr, ok, tt.want[i])
				}
				if refresh != tt.wantRefr {
					t.Errorf("refresh = %v, want %v", refresh, tt.wantRefr)
				}
			}
		})
	}
}

func TestCacheGetSetDelete(t *testing.T) {
	c, clk := newTestCache()
	in := []string{"a:1", "b:2"}
	c.Set("x", in, time.Minute)
	in[0] = "mutated" // the cache must keep its own copy
	got, ok := c.Get("x")
	if !ok || fmt.Sprint(got) != "[a:1 b:2]" {
		t.Fatalf("Get = %v, %v", got, ok)
	}
	got[1] = "mutated"
	if again, _ := c.Get("x"); again[1] != "b:2" {
		t.Fatalf("Get returned shared slice: %v", again)
	}
	if _, ok := c.Get("y"); ok {
		t.Fatal("Get of unknown id succeeded")
	}
	c.Delete("x")
	if _, ok := c.Get("x"); ok {
		t.Fatal("Get after Delete succeeded")
	}

	// Refreshing keeps the rotation position instead of restarting.
	c.Set("r", []string{"a", "b", "c"}, time.Minute)
	c.Next("r")
	c.Set("r", []string{"a", "b", "c"}, time.Minute)
	if addr, _, _ := c.Next("r"); addr != "b" {
		t.Fatalf("after refresh Next = %q, want b", addr)
	}

	// Set purges expired entries of other ids.
	c.Set("old", []string{"o"}, time.Second)
	clk.add(2 * time.Second)
	c.Set("new", []string{"n"}, time.Second)
	c.mu.Lock()
	_, present := c.entries["old"]
	c.mu.Unlock()
	if present {
		t.Fatal("expired entry not purged on Set")
	}
}

func TestCacheConcurrent(t *testing.T) {
	c := NewCache()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				id := fmt.Sprint("app", i%4)
				if g%2 == 0 {
					c.Set(id, []string{"a", "b"}, time.Minute)
				} else if addr, _, ok := c.Next(id); ok && addr != "a" && addr != "b" {
					t.Errorf("Next = %q", addr)
				}
			}
		}(g)
	}
	wg.Wait()
}
