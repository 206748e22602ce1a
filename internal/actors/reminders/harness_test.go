package reminders

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/memory"
	"github.com/outrigger/outrigger/internal/state/sqlite"
	"github.com/outrigger/outrigger/internal/testutil"
)

const deadline = 15 * time.Second

// storeKinds are the stores every store-facing test runs against.
var storeKinds = []struct {
	name string
	open func(t *testing.T) state.Store
}{
	{"memory", func(t *testing.T) state.Store { return openMemory(t) }},
	{"sqlite", openSQLite},
}

func openMemory(t testing.TB) state.Store {
	t.Helper()
	s := memory.New()
	if err := s.Init(context.Background(), state.Metadata{Name: "actorstore"}); err != nil {
		t.Fatalf("memory Init: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func openSQLite(t *testing.T) state.Store {
	t.Helper()
	return openSQLitePath(t, filepath.Join(t.TempDir(), "actors.db"))
}

func openSQLitePath(t *testing.T, path string) state.Store {
	t.Helper()
	s := sqlite.New()
	if err := s.Init(context.Background(), state.Metadata{Name: "actorstore", Properties: map[string]string{
		"connectionString": path, "busyTimeout": "10s",
	}}); err != nil {
		t.Fatalf("sqlite Init: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// firing is one call of Config.Fire.
type firing struct {
	sidecar string
	r       Reminder
}

// cluster records firings across the sidecars of a test and checks that a
// reminder is never fired by two sidecars at the same time.
type cluster struct {
	t  *testing.T
	mu sync.Mutex
	// owner names the sidecar placement gives every actor to.
	owner    string
	fired    []firing
	inFlight map[string]string // reminder key -> sidecar firing it
	overlap  []string
	// hook, when set, decides a firing's result.
	hook func(f firing) (bool, error)
}

func newCluster(t *testing.T, owner string) *cluster {
	return &cluster{t: t, owner: owner, inFlight: map[string]string{}}
}

func (c *cluster) setOwner(o string) {
	c.mu.Lock()
	c.owner = o
	c.mu.Unlock()
}

func (c *cluster) isLocal(sidecar string) func(context.Context, string, string) (bool, error) {
	return func(context.Context, string, string) (bool, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.owner == sidecar, nil
	}
}

func (c *cluster) fire(sidecar string) func(context.Context, Reminder) (bool, error) {
	return func(_ context.Context, r Reminder) (bool, error) {
		f := firing{sidecar: sidecar, r: r}
		c.mu.Lock()
		if other, busy := c.inFlight[r.Key()]; busy {
			c.overlap = append(c.overlap, r.Key()+" on "+other+" and "+sidecar)
		}
		c.inFlight[r.Key()] = sidecar
		c.fired = append(c.fired, f)
		hook := c.hook
		c.mu.Unlock()
		var cancel bool
		var err error
		if hook != nil {
			cancel, err = hook(f)
		}
		c.mu.Lock()
		delete(c.inFlight, r.Key())
		c.mu.Unlock()
		return cancel, err
	}
}

// count returns firings matching sidecar ("" any) and reminder name ("" any).
func (c *cluster) count(sidecar, name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, f := range c.fired {
		if (sidecar == "" || f.sidecar == sidecar) && (name == "" || f.r.Name == name) {
			n++
		}
	}
	return n
}

func (c *cluster) firings() []firing {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]firing(nil), c.fired...)
}

func (c *cluster) checkNoOverlap() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.overlap) > 0 {
		c.t.Fatalf("reminders fired concurrently on two sidecars: %v", c.overlap)
	}
}

// sidecar is a running Service.
type sidecar struct {
	*Service
	stop func()
}

// startSidecar runs a Service named name on store, hosting type "T".
func (c *cluster) startSidecar(name string, store state.Store, tweak func(*Config)) *sidecar {
	c.t.Helper()
	cfg := Config{
		Store:         store,
		AppID:         "app",
		IsLocal:       c.isLocal(name),
		Fire:          c.fire(name),
		HostedTypes:   func() []string { return []string{"T"} },
		Log:           slog.New(slog.DiscardHandler),
		FlushInterval: 50 * time.Millisecond,
		SyncInterval:  50 * time.Millisecond,
		RetryInterval: 10 * time.Millisecond,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	svc := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := svc.Run(ctx); err != nil {
			c.t.Errorf("Run: %v", err)
		}
	}()
	var once sync.Once
	sc := &sidecar{Service: svc, stop: func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}}
	c.t.Cleanup(sc.stop)
	return sc
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, deadline, what, cond)
}

func mustCreate(t *testing.T, s *Service, req CreateRequest) {
	t.Helper()
	if req.ActorType == "" {
		req.ActorType = "T"
	}
	if err := s.Create(context.Background(), req); err != nil {
		t.Fatalf("Create(%+v): %v", req, err)
	}
}

func boolPtr(b bool) *bool { return &b }
