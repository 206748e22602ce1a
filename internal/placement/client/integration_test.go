package client_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/placement"
	"github.com/outrigger/outrigger/internal/placement/client"
	"github.com/outrigger/outrigger/internal/placement/hashing"
	"github.com/outrigger/outrigger/internal/testutil"
)

// These tests run the client against Outrigger's own placement service.

const waitFor = 20 * time.Second

type placementNode struct {
	svc    *placement.Service
	addr   string
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// startPlacement runs a single in-memory placement node on addr ("" picks
// a port) and waits until it leads.
func startPlacement(t *testing.T, addr string) *placementNode {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &placementNode{
		svc:    placement.New(placement.Options{HostGracePeriod: 100 * time.Millisecond}),
		addr:   lis.Addr().String(),
		cancel: cancel,
		done:   make(chan error, 1),
	}
	go func() { n.done <- n.svc.Run(ctx, lis) }()
	t.Cleanup(n.stop)
	eventually(t, "placement leads", n.svc.IsLeader)
	return n
}

func (n *placementNode) stop() {
	n.once.Do(func() {
		n.cancel()
		select {
		case <-n.done:
		case <-time.After(waitFor):
		}
	})
}

type counter struct{ updates, losses atomic.Int32 }

func (c *counter) TableUpdated(context.Context)  { c.updates.Add(1) }
func (c *counter) PlacementLost(context.Context) { c.losses.Add(1) }

type sidecar struct {
	client   *client.Client
	listener *counter
	stop     func()
}

func startSidecar(t *testing.T, addr, ip string, types []string) *sidecar {
	t.Helper()
	l := &counter{}
	c, err := client.New(client.Options{
		Addresses:   []string{addr},
		HostAddress: ip,
		Port:        50002,
		AppID:       "app-" + ip,
		Listener:    l,
		LostGrace:   300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	c.SetHostedTypes(types)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(waitFor):
			t.Error("Run did not return")
		}
	}
	t.Cleanup(stop)
	return &sidecar{client: c, listener: l, stop: stop}
}

// agreeOn waits until every sidecar routes ids like the ring of hosts that
// Dapr's default placement (100 virtual nodes per host) describes.
func agreeOn(t *testing.T, sidecars []*sidecar, typ string, hosts []string) {
	t.Helper()
	members := map[string]hashing.Host{}
	for _, h := range hosts {
		members[h] = hashing.Host{Name: h}
	}
	ring := hashing.NewRing(members, placement.DefaultReplicationFactor, nil)
	eventually(t, fmt.Sprintf("all sidecars route %s to %v", typ, hosts), func() bool {
		for _, s := range sidecars {
			if !s.client.Ready() {
				return false
			}
			for i := range 100 {
				id := fmt.Sprintf("id-%d", i)
				want, _ := ring.Lookup(id)
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				got, err := s.client.LookupActor(ctx, typ, id)
				cancel()
				if err != nil || got.Name != want.Name {
					return false
				}
			}
		}
		return true
	})
}

func TestWithOutriggerPlacement(t *testing.T) {
	p := startPlacement(t, "")
	a := startSidecar(t, p.addr, "10.9.1.1", []string{"cart"})
	b := startSidecar(t, p.addr, "10.9.1.2", []string{"cart"})
	c := startSidecar(t, p.addr, "10.9.1.3", []string{"cart"})
	all := []*sidecar{a, b, c}
	agreeOn(t, all, "cart", []string{"10.9.1.1:50002", "10.9.1.2:50002", "10.9.1.3:50002"})
	for _, s := range all {
		if s.listener.updates.Load() == 0 {
			t.Fatal("TableUpdated never ran")
		}
	}

	// c leaves: the others route its share elsewhere.
	c.stop()
	agreeOn(t, all[:2], "cart", []string{"10.9.1.1:50002", "10.9.1.2:50002"})

	// b stops hosting (its app turned unhealthy).
	b.client.SetHostedTypes(nil)
	agreeOn(t, all[:2], "cart", []string{"10.9.1.1:50002"})

	// A type nobody hosts.
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if _, err := a.client.LookupActor(ctx, "nobody", "1"); err == nil {
		t.Fatal("lookup of an unhosted type succeeded")
	}
}

func TestPlacementRestart(t *testing.T) {
	p := startPlacement(t, "")
	a := startSidecar(t, p.addr, "10.9.2.1", []string{"cart"})
	b := startSidecar(t, p.addr, "10.9.2.2", []string{"cart"})
	hosts := []string{"10.9.2.1:50002", "10.9.2.2:50002"}
	agreeOn(t, []*sidecar{a, b}, "cart", hosts)

	p.stop()
	eventually(t, "sidecars declare placement lost", func() bool {
		return a.listener.losses.Load() > 0 && b.listener.losses.Load() > 0
	})
	_, err := a.client.LookupActor(context.Background(), "cart", "x")
	if !errors.Is(err, client.ErrPlacementUnreachable) {
		t.Fatalf("lookup with placement down = %v, want ErrPlacementUnreachable", err)
	}

	startPlacement(t, p.addr)
	agreeOn(t, []*sidecar{a, b}, "cart", hosts)
	if st := a.client.Status(); st.Lost || !st.Connected || st.Address != p.addr {
		t.Fatalf("status after restart = %+v", st)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, waitFor, what, cond)
}
