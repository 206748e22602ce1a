package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestPlacementClusterKilledRestartsFromLog: a three-node placement
// cluster with --raft-logstore-path is SIGKILLed as a whole (no clean
// close of its bbolt logs, which the in-process tests cannot do), and
// one actor host dies while placement is down. Started again from the
// same directories, every node serves the membership it had, the dead
// host included, since nobody but the log can tell it; the live hosts
// reconnect by themselves, and the dead one leaves the table after the
// failover grace, so actors answer again.
func TestPlacementClusterKilledRestartsFromLog(t *testing.T) {
	ports := blkPorts(t, 6)
	cluster := fmt.Sprintf("p0=127.0.0.1:%d,p1=127.0.0.1:%d,p2=127.0.0.1:%d", ports[3], ports[4], ports[5])
	nodes := make([]*actPlacement, 3)
	for i := range nodes {
		nodes[i] = newPlacementNode("p"+strconv.Itoa(i), ports[i], cluster)
		nodes[i].args = append(nodes[i].args, "--raft-logstore-path", t.TempDir(), "--metadata-enabled")
		nodes[i].start(t)
	}
	for _, n := range nodes {
		n.waitStatus(t, "/healthz", 200, 20*time.Second)
	}
	leader := waitLeader(t, nodes, 30*time.Second)
	c := newActCluster(t, nodes[0].addr, nodes[1].addr, nodes[2].addr)
	for range 3 {
		c.addHost()
	}
	ids := actIDs("r", 30)
	c.waitSpread(ids, 0, []int{0, 1, 2}, 30*time.Second)
	var before placementTable
	if !blkWaitFor(10*time.Second, func() bool {
		before = placementState(leader)
		return len(before.Hosts) == 3
	}) {
		t.Fatalf("leader's table before the kill: %+v, want three hosts", before)
	}

	for _, n := range nodes {
		if err := n.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		n.exitCode(t, 10*time.Second)
	}
	c.kill(2)

	for _, n := range nodes {
		n.start(t)
	}
	for _, n := range nodes {
		n.waitStatus(t, "/healthz", 200, 20*time.Second)
	}
	waitLeader(t, nodes, 30*time.Second)
	// Within the failover grace (10s) every node has the table of before
	// the kill: same version, the dead host still in it.
	for _, n := range nodes {
		var got placementTable
		if !blkWaitFor(8*time.Second, func() bool {
			got = placementState(n)
			return got.Version == before.Version && slices.Equal(got.names(), before.names())
		}) {
			t.Fatalf("placement %s after the restart serves %+v, want the restored %+v", n.id, got, before)
		}
	}

	for i := range 2 {
		c.waitHostReady(i, 30*time.Second)
	}
	// The dead host never reconnects: once it has left the table the
	// actors it had answer from the others.
	c.waitSpread(ids, 0, []int{0, 1}, 40*time.Second)
	after := placementState(waitLeader(t, nodes, 10*time.Second))
	if len(after.Hosts) != 2 || after.Version <= before.Version {
		t.Errorf("table after the dead host left: %+v, want two hosts after version %d", after, before.Version)
	}
}

// placementTable is one namespace of /placement/state (Dapr's JSON).
type placementTable struct {
	Version uint64 `json:"version"`
	Hosts   []struct {
		Name string `json:"name"`
	} `json:"hosts"`
}

func (p placementTable) names() []string {
	var out []string
	for _, h := range p.Hosts {
		out = append(out, h.Name)
	}
	slices.Sort(out)
	return out
}

// placementState reads the default namespace's table from a node's
// metadata endpoint; zero when it cannot.
func placementState(n *actPlacement) placementTable {
	r, err := blkDo(context.Background(), http.MethodGet, n.url("/placement/state"), "")
	if err != nil || r.status != http.StatusOK {
		return placementTable{}
	}
	var state struct {
		Tables map[string]placementTable `json:"tables"`
	}
	if json.Unmarshal(r.body, &state) != nil {
		return placementTable{}
	}
	return state.Tables["default"]
}
