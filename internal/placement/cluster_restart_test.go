package placement

import (
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// TestClusterRestartsFromDurableLogs: every node of a durable cluster
// crashes at once and starts again from its data directory. As Dapr's
// placement, the membership lives in the Raft log: the restarted cluster
// elects a leader, every node has the hosts and table versions back, a
// sidecar that reconnects gets the table it had, and a host that never
// comes back leaves the table once the failover grace has passed.
func TestClusterRestartsFromDurableLogs(t *testing.T) {
	const grace = 3 * time.Second
	c := newCluster(t, 3, true, func(o *Options) { o.FailoverGracePeriod = grace })
	lead := c.leader(t)
	tables := map[string][]string{"T": {"a:1", "b:1"}, "U": {"b:1"}}
	a := dial(t, c.addrs[lead], "a:1", []string{"T"})
	b := dial(t, c.addrs[lead], "b:1", []string{"T", "U"})
	x := dial(t, c.addrs[lead], "x:1", []string{"V"}, inNamespace("other"))
	version := a.waitTable(tables)
	b.waitTable(tables)
	otherVersion := x.waitTable(map[string][]string{"V": {"x:1"}})
	c.waitReplicated(t, "default", version, "a:1", "b:1")
	c.waitReplicated(t, "other", otherVersion, "x:1")

	c.stopAll(t, true)
	for _, s := range []*sidecar{a, b, x} {
		s.waitEnd()
	}
	for i := range c.nodes {
		c.start(t, i)
	}
	lead = c.leader(t)
	c.waitReplicated(t, "default", version, "a:1", "b:1")
	c.waitReplicated(t, "other", otherVersion, "x:1")

	// a and b reconnect within the grace: nothing changed, so each gets
	// the restored table at the restored version.
	a = dial(t, c.addrs[lead], "a:1", []string{"T"})
	b = dial(t, c.addrs[lead], "b:1", []string{"T", "U"})
	for _, s := range []*sidecar{a, b} {
		if got := s.waitTable(tables); got != version {
			t.Errorf("%s: first table after the restart has version %d, want the restored %d", s.name, got, version)
		}
	}

	// x never comes back: once the grace is over it leaves its namespace.
	c.waitReplicated(t, "other", otherVersion+1)

	// Versions go on from the restored one.
	b.report([]string{"T"})
	a.waitTableAfter(map[string][]string{"T": {"a:1", "b:1"}}, version)
	if state := c.nodes[lead].svc.State()["default"]; state.Version <= version {
		t.Errorf("version after the restart %d, want more than %d", state.Version, version)
	}
}

// TestClusterSnapshotRestore: with a short log tail, a snapshot truncates
// the log. A follower that was down meanwhile catches up from the leader's
// snapshot (the entries it misses are gone), and after the whole cluster
// stops gracefully and starts again, the membership comes back from the
// snapshots, the log no longer holding the entries that built it.
func TestClusterSnapshotRestore(t *testing.T) {
	c := newCluster(t, 3, true, func(o *Options) { o.RaftTuning.TrailingLogs = 1 })
	lead := c.leader(t)
	a := dial(t, c.addrs[lead], "a:1", []string{"T"})
	b := dial(t, c.addrs[lead], "b:1", []string{"T"})
	version := a.waitTable(map[string][]string{"T": {"a:1", "b:1"}})

	behind := (lead + 1) % len(c.nodes)
	c.stop(t, behind)
	// Three more entries the stopped follower misses.
	changes := []struct {
		types  []string
		tables map[string][]string
	}{
		{[]string{"T", "U"}, map[string][]string{"T": {"a:1", "b:1"}, "U": {"b:1"}}},
		{[]string{"U"}, map[string][]string{"T": {"a:1"}, "U": {"b:1"}}},
		{[]string{"U", "W"}, map[string][]string{"T": {"a:1"}, "U": {"b:1"}, "W": {"b:1"}}},
	}
	for _, ch := range changes {
		b.report(ch.types)
		version = a.waitTableAfter(ch.tables, version)
	}
	final := changes[len(changes)-1].tables
	c.waitReplicated(t, "default", version, "a:1", "b:1")
	for i, n := range c.nodes {
		if n == nil {
			continue
		}
		if err := n.svc.node.Load().Snapshot(); err != nil {
			t.Fatalf("snapshot of node %d: %v", i, err)
		}
	}

	// The follower's next entry was truncated: it gets the snapshot.
	c.start(t, behind)
	c.waitReplicated(t, "default", version, "a:1", "b:1")
	if snaps := listSnapshots(t, c.dirs[behind]); len(snaps) == 0 {
		t.Errorf("node %d caught up without installing a snapshot", behind)
	}

	c.stopAll(t, false)
	for i, dir := range c.dirs {
		if i == behind {
			continue
		}
		snaps := listSnapshots(t, dir)
		if len(snaps) == 0 {
			t.Fatalf("node %d has no snapshot", i)
		}
		if first := firstLogIndex(t, dir); first < snaps[0].Index {
			t.Errorf("node %d: log starts at %d, want it truncated up to the snapshot at %d", i, first, snaps[0].Index)
		}
	}

	for i := range c.nodes {
		c.start(t, i)
	}
	lead = c.leader(t)
	c.waitReplicated(t, "default", version, "a:1", "b:1")
	a = dial(t, c.addrs[lead], "a:1", []string{"T"})
	b = dial(t, c.addrs[lead], "b:1", changes[len(changes)-1].types)
	for _, s := range []*sidecar{a, b} {
		if got := s.waitTable(final); got != version {
			t.Errorf("%s: first table after the restart has version %d, want the restored %d", s.name, got, version)
		}
	}
	b.report([]string{"W"})
	a.waitTableAfter(map[string][]string{"T": {"a:1"}, "W": {"b:1"}}, version)
}

// listSnapshots reads the snapshots a stopped node keeps, newest first.
func listSnapshots(t *testing.T, dir string) []*raft.SnapshotMeta {
	t.Helper()
	store, err := raft.NewFileSnapshotStore(dir, 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := store.List()
	if err != nil {
		t.Fatal(err)
	}
	return snaps
}

// firstLogIndex opens a stopped node's Raft log and returns its first index.
func firstLogIndex(t *testing.T, dir string) uint64 {
	t.Helper()
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	first, err := store.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	return first
}
