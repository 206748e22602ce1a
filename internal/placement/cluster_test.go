package placement

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/outrigger/outrigger/internal/placement/membership"
)

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	return lis.Addr().String()
}

// cluster is an in-process Raft cluster of placement nodes on loopback.
type cluster struct {
	peers []membership.Peer
	addrs []string // gRPC addresses, by node index
	dirs  []string // Raft data directories; empty for in-memory
	nodes []*node
}

func newCluster(t *testing.T, size int, durable bool) *cluster {
	c := &cluster{}
	for i := range size {
		c.peers = append(c.peers, membership.Peer{ID: fmt.Sprintf("placement-%d", i), Address: freeAddr(t)})
		c.addrs = append(c.addrs, freeAddr(t))
		dir := ""
		if durable {
			dir = t.TempDir()
		}
		c.dirs = append(c.dirs, dir)
	}
	c.nodes = make([]*node, size)
	for i := range size {
		c.start(t, i)
	}
	return c
}

func (c *cluster) start(t *testing.T, i int) {
	c.nodes[i] = startNode(t, Options{
		ID:                  c.peers[i].ID,
		Peers:               c.peers,
		DataDir:             c.dirs[i],
		FailoverGracePeriod: time.Minute,
	}, c.addrs[i])
}

// leader waits until exactly one running node serves, and returns it.
func (c *cluster) leader(t *testing.T) int {
	t.Helper()
	found := -1
	eventually(t, "one leader serves", func() bool {
		found = -1
		for i, n := range c.nodes {
			if n == nil || !n.svc.IsLeader() {
				continue
			}
			if found >= 0 {
				return false
			}
			found = i
		}
		return found >= 0
	})
	return found
}

func TestClusterFailover(t *testing.T) {
	c := newCluster(t, 3, false)
	lead := c.leader(t)

	// Followers turn sidecars away so they try the next address.
	for i := range c.nodes {
		if i == lead {
			continue
		}
		s := dial(t, c.addrs[i], "x:1", []string{"T"})
		st := s.waitEnd()
		if st.Code() != codes.FailedPrecondition || !strings.Contains(st.Message(), "is not a leader") {
			t.Errorf("follower %d answered %v, want FailedPrecondition ... is not a leader", i, st)
		}
	}

	a := dial(t, c.addrs[lead], "a:1", []string{"T"})
	b := dial(t, c.addrs[lead], "b:1", []string{"T", "U"})
	both := map[string][]string{"T": {"a:1", "b:1"}, "U": {"b:1"}}
	a.waitTable(both)
	oldVersion := b.waitTable(both)

	c.nodes[lead].stop(t)
	c.nodes[lead] = nil
	if st := a.waitEnd(); st.Code() != codes.Unavailable {
		t.Errorf("stream to the stopped leader ended with %v, want Unavailable", st)
	}
	next := c.leader(t)

	// The new leader knows the membership from the log: the first sidecar
	// to come back already gets both hosts, at the replicated version.
	a = dial(t, c.addrs[next], "a:1", []string{"T"})
	if got := a.waitTable(both); got != oldVersion {
		t.Errorf("first table from the new leader has version %d, want the replicated %d", got, oldVersion)
	}
	b = dial(t, c.addrs[next], "b:1", []string{"T", "U"})
	b.waitTable(both)

	// Tables keep flowing: a change makes a newer round.
	b.report([]string{"U"})
	if got := a.waitTable(map[string][]string{"T": {"a:1"}, "U": {"b:1"}}); got <= oldVersion {
		t.Errorf("version after failover %d, want more than %d", got, oldVersion)
	}
}

func TestDurableLogSurvivesRestart(t *testing.T) {
	c := newCluster(t, 1, true)
	c.leader(t)
	a := dial(t, c.addrs[0], "a:1", []string{"T"})
	a.waitTable(map[string][]string{"T": {"a:1"}})
	if err := c.nodes[0].svc.node.Load().Snapshot(); err != nil {
		t.Fatal(err)
	}
	// One more entry after the snapshot, so restart replays both.
	a.report([]string{"T", "U"})
	version := a.waitTable(map[string][]string{"T": {"a:1"}, "U": {"a:1"}})

	c.nodes[0].stop(t)
	c.start(t, 0)
	c.leader(t)
	state := c.nodes[0].svc.State()["default"]
	if state.Version != version || len(state.Hosts) != 1 || state.Hosts[0].Name != "a:1" {
		t.Fatalf("state after restart = %+v, want a:1 at version %d", state, version)
	}

	b := dial(t, c.addrs[0], "b:1", []string{"U"})
	if got := b.waitTable(map[string][]string{"T": {"a:1"}, "U": {"a:1", "b:1"}}); got <= version {
		t.Errorf("version after restart %d, want more than %d", got, version)
	}
}
