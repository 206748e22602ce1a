package placement

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/outrigger/outrigger/internal/placement/membership"
)

// Test ports come from below the kernel's ephemeral range (32768+ on
// Linux): a node restarted on its old address could otherwise find the port
// taken by an outgoing connection (a Raft peer dialling, a sidecar). The
// range differs from test/e2e's, which may run at the same time.
const (
	portLow  = 12000
	portHigh = 20000
)

var handedOut sync.Map // port -> struct{}

// freeAddr returns a loopback address nobody listens on right now, and
// never the same one twice in a test binary.
func freeAddr(t *testing.T) string {
	t.Helper()
	for range 1000 {
		port := portLow + rand.IntN(portHigh-portLow)
		if _, taken := handedOut.LoadOrStore(port, struct{}{}); taken {
			continue
		}
		lis, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue // in use by another process
		}
		_ = lis.Close()
		return lis.Addr().String()
	}
	t.Fatal("no free port found")
	return ""
}

// cluster is an in-process Raft cluster of placement nodes on loopback.
type cluster struct {
	peers []membership.Peer
	addrs []string // gRPC addresses, by node index
	dirs  []string // Raft data directories; empty for in-memory
	nodes []*node  // nil while a node is stopped
	opts  []func(*Options)
}

// newCluster starts size nodes; opts adjust every node's options.
func newCluster(t *testing.T, size int, durable bool, opts ...func(*Options)) *cluster {
	c := &cluster{opts: opts}
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

// start starts (or restarts, from its data directory) node i.
func (c *cluster) start(t *testing.T, i int) {
	opts := Options{
		ID:                  c.peers[i].ID,
		Peers:               c.peers,
		DataDir:             c.dirs[i],
		FailoverGracePeriod: time.Minute,
		// All nodes share this process: when it stalls (-race, two busy
		// cores), a leader with the default 500ms lease steps down although
		// every follower still follows it, and the tests see a failover
		// they did not cause.
		RaftTuning: membership.Tuning{LeaderLeaseTimeout: time.Second},
	}
	for _, o := range c.opts {
		o(&opts)
	}
	n := startNode(t, opts, c.addrs[i])
	// Runs before startNode's cleanup: at the end of a test all nodes stop
	// at once, and a leader handing over to a stopping follower would wait
	// out its lease.
	t.Cleanup(func() { n.svc.crash.Store(true) })
	c.nodes[i] = n
}

// stop stops node i gracefully (a leader hands leadership over first).
func (c *cluster) stop(t *testing.T, i int) {
	t.Helper()
	c.nodes[i].stop(t)
	c.nodes[i] = nil
}

// kill stops node i as a crash would: no leadership handover, so the
// others must notice the silence and elect.
func (c *cluster) kill(t *testing.T, i int) {
	t.Helper()
	c.nodes[i].svc.crash.Store(true)
	c.stop(t, i)
}

// stopAll stops every running node at once, like a whole-cluster outage
// (crash) or a rolling-less shutdown of all pods (graceful).
func (c *cluster) stopAll(t *testing.T, crash bool) {
	t.Helper()
	for _, n := range c.nodes {
		if n != nil {
			n.svc.crash.Store(crash)
			n.cancel()
		}
	}
	for i, n := range c.nodes {
		if n != nil {
			n.stop(t)
			c.nodes[i] = nil
		}
	}
}

// leader waits until exactly one running node serves, and every running
// node names it as the Raft leader; it returns its index.
func (c *cluster) leader(t *testing.T) int {
	t.Helper()
	found := -1
	eventually(t, "one leader serves and every node follows it", func() bool {
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
		if found < 0 {
			return false
		}
		for _, n := range c.nodes {
			if n != nil && n.svc.node.Load().Leader() != c.peers[found].ID {
				return false
			}
		}
		return true
	})
	return found
}

// waitReplicated waits until every running node has applied the state of
// namespace ns at version with exactly hosts.
func (c *cluster) waitReplicated(t *testing.T, ns string, version uint64, hosts ...string) {
	t.Helper()
	var last map[string]membership.Namespace
	deadline := time.Now().Add(waitFor)
	for {
		ok := true
		for _, n := range c.nodes {
			if n == nil {
				continue
			}
			last = n.svc.State()
			if !stateIs(last[ns], version, hosts) {
				ok = false
				break
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace %q not replicated at version %d with %v; a node has %+v", ns, version, hosts, last[ns])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func stateIs(st membership.Namespace, version uint64, hosts []string) bool {
	if st.Version != version || len(st.Hosts) != len(hosts) {
		return false
	}
	for i, h := range st.Hosts {
		if h.Name != hosts[i] {
			return false
		}
	}
	return true
}

// expectRefusals checks that every running follower turns a sidecar away,
// so it tries the next address.
func (c *cluster) expectRefusals(t *testing.T, lead int) {
	t.Helper()
	for i, n := range c.nodes {
		if n == nil || i == lead {
			continue
		}
		s := dial(t, c.addrs[i], "refused:1", []string{"T"})
		st := s.waitEnd()
		if st.Code() != codes.FailedPrecondition || !strings.Contains(st.Message(), "is not a leader") {
			t.Errorf("follower %d answered %v, want FailedPrecondition ... is not a leader", i, st)
		}
	}
}

func TestClusterFailover(t *testing.T) {
	c := newCluster(t, 3, false)
	lead := c.leader(t)

	// Followers turn sidecars away so they try the next address.
	c.expectRefusals(t, lead)

	a := dial(t, c.addrs[lead], "a:1", []string{"T"})
	b := dial(t, c.addrs[lead], "b:1", []string{"T", "U"})
	both := map[string][]string{"T": {"a:1", "b:1"}, "U": {"b:1"}}
	a.waitTable(both)
	oldVersion := b.waitTable(both)

	c.stop(t, lead)
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

// TestFiveNodeCluster: five nodes elect one leader and replicate the
// membership of every namespace to all; the leader crashes twice (three
// nodes, still a quorum, are left) and each time the next leader serves
// the replicated tables at the same version and still commits changes.
func TestFiveNodeCluster(t *testing.T) {
	c := newCluster(t, 5, false)
	lead := c.leader(t)
	c.expectRefusals(t, lead)

	// b alternates between hosting T and U and hosting only T.
	bTypes := [][]string{{"T", "U"}, {"T"}, {"T", "U"}}
	tables := []map[string][]string{
		{"T": {"a:1", "b:1"}, "U": {"b:1"}},
		{"T": {"a:1", "b:1"}},
		{"T": {"a:1", "b:1"}, "U": {"b:1"}},
	}
	otherTable := map[string][]string{"V": {"x:1"}}
	a := dial(t, c.addrs[lead], "a:1", []string{"T"})
	b := dial(t, c.addrs[lead], "b:1", bTypes[0])
	x := dial(t, c.addrs[lead], "x:1", []string{"V"}, inNamespace("other"))
	version := a.waitTable(tables[0])
	b.waitTable(tables[0])
	otherVersion := x.waitTable(otherTable)
	c.waitReplicated(t, "default", version, "a:1", "b:1")
	c.waitReplicated(t, "other", otherVersion, "x:1")

	for round := range 2 {
		c.kill(t, lead)
		for _, s := range []*sidecar{a, b, x} {
			if st := s.waitEnd(); st.Code() != codes.Unavailable {
				t.Errorf("stream of %s to the killed leader ended with %v, want Unavailable", s.name, st)
			}
		}
		lead = c.leader(t)
		c.expectRefusals(t, lead)

		// The first table from the new leader is the replicated one.
		a = dial(t, c.addrs[lead], "a:1", []string{"T"})
		if got := a.waitTable(tables[round]); got != version {
			t.Errorf("after kill %d: first table has version %d, want the replicated %d", round+1, got, version)
		}
		b = dial(t, c.addrs[lead], "b:1", bTypes[round])
		b.waitTable(tables[round])
		x = dial(t, c.addrs[lead], "x:1", []string{"V"}, inNamespace("other"))
		if got := x.waitTable(otherTable); got != otherVersion {
			t.Errorf("after kill %d: namespace other has version %d, want the replicated %d", round+1, got, otherVersion)
		}

		// A change commits on what is left of the cluster.
		b.report(bTypes[round+1])
		next := a.waitTableAfter(tables[round+1], version)
		b.waitTableAfter(tables[round+1], version)
		c.waitReplicated(t, "default", next, "a:1", "b:1")
		version = next
	}
}
