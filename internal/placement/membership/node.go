package membership

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// Peer is one member of the Raft cluster.
type Peer struct {
	ID string
	// Address is the host:port of the peer's Raft transport.
	Address string
}

// Config configures a node.
type Config struct {
	// ID is this node's ID; with Peers it must be one of them.
	ID string
	// Peers is the whole cluster, this node included. Empty runs a single
	// node with an in-process transport and no network port.
	Peers []Peer
	// DataDir holds the Raft log (bbolt) and snapshots; empty keeps both in
	// memory, so a restarted node starts with no state.
	DataDir string
	// Logger receives Raft's own logs at LogLevel (hclog level names:
	// trace, debug, info, warn, error); nil discards them.
	Logger   *slog.Logger
	LogLevel string
	// Tuning overrides Raft's leader lease and log compaction.
	Tuning Tuning
}

// Tuning overrides Raft settings; a zero field keeps the default.
// Production runs the defaults; tests lengthen the lease (all their nodes
// share one process, which may stall) or keep few trailing logs so that a
// snapshot truncates the log.
type Tuning struct {
	// LeaderLeaseTimeout is how long a leader keeps leading without
	// hearing from a quorum; at most HeartbeatTimeout.
	LeaderLeaseTimeout time.Duration
	// SnapshotThreshold is how many new entries trigger a snapshot.
	SnapshotThreshold uint64
	// TrailingLogs is how many entries a snapshot leaves in the log, for
	// followers slightly behind; older ones are deleted.
	TrailingLogs uint64
}

// applyTimeout bounds one write; a write that takes longer has lost its
// quorum and the round that needed it is retried.
const applyTimeout = 5 * time.Second

// ErrNotLeader is returned by Put on a node that is not the leader.
var ErrNotLeader = errors.New("this placement node is not the Raft leader")

// Node is one Raft node replicating the membership.
type Node struct {
	raft      *raft.Raft
	fsm       *fsm
	notify    chan bool
	closers   []io.Closer
	clustered bool // more than one voter
}

// Start opens the stores, joins (or bootstraps) the cluster and starts Raft.
func Start(cfg Config) (*Node, error) {
	if cfg.ID == "" {
		return nil, errors.New("membership: node ID is required")
	}
	var out io.Writer = io.Discard
	if cfg.Logger != nil {
		out = slogWriter{log: cfg.Logger.With("component", "raft")}
	}
	logger := hclog.New(&hclog.LoggerOptions{Output: out, Level: hclog.LevelFromString(cfg.LogLevel), DisableTime: true})

	n := &Node{fsm: newFSM(), notify: make(chan bool, 16)}
	ok := false
	defer func() {
		if !ok {
			n.closeResources()
		}
	}()

	trans, peers, err := n.openTransport(cfg, logger)
	if err != nil {
		return nil, err
	}
	logs, stable, snaps, err := n.openStores(cfg.DataDir, logger)
	if err != nil {
		return nil, err
	}

	n.clustered = len(peers) > 1
	conf := raftConfig(!n.clustered, cfg.Tuning)
	conf.LocalID = raft.ServerID(cfg.ID)
	conf.Logger = logger
	conf.NotifyCh = n.notify

	existing, err := raft.HasExistingState(logs, stable, snaps)
	if err != nil {
		return nil, fmt.Errorf("membership: read raft state: %w", err)
	}
	if !existing {
		if err := raft.BootstrapCluster(conf, logs, stable, snaps, trans, raft.Configuration{Servers: peers}); err != nil {
			return nil, fmt.Errorf("membership: bootstrap raft cluster: %w", err)
		}
	}
	r, err := raft.NewRaft(conf, n.fsm, logs, stable, snaps, trans)
	if err != nil {
		return nil, fmt.Errorf("membership: start raft: %w", err)
	}
	n.raft = r
	ok = true
	return n, nil
}

// raftConfig returns timings for a single node (elects itself at once) or
// a cluster (tolerates a busy machine without needless elections), with
// tuning applied.
func raftConfig(single bool, tuning Tuning) *raft.Config {
	conf := raft.DefaultConfig()
	conf.SnapshotInterval = 30 * time.Second
	conf.SnapshotThreshold = 1024
	conf.TrailingLogs = 1024
	if single {
		conf.HeartbeatTimeout = 50 * time.Millisecond
		conf.ElectionTimeout = 50 * time.Millisecond
		conf.LeaderLeaseTimeout = 50 * time.Millisecond
		conf.CommitTimeout = 5 * time.Millisecond
		tuning.apply(conf)
		return conf
	}
	conf.HeartbeatTimeout = time.Second
	conf.ElectionTimeout = time.Second
	conf.LeaderLeaseTimeout = 500 * time.Millisecond
	conf.CommitTimeout = 20 * time.Millisecond
	tuning.apply(conf)
	return conf
}

func (t Tuning) apply(conf *raft.Config) {
	if t.LeaderLeaseTimeout > 0 {
		// Raft requires the lease within the heartbeat timeout.
		conf.LeaderLeaseTimeout = min(t.LeaderLeaseTimeout, conf.HeartbeatTimeout)
	}
	if t.SnapshotThreshold > 0 {
		conf.SnapshotThreshold = t.SnapshotThreshold
	}
	if t.TrailingLogs > 0 {
		conf.TrailingLogs = t.TrailingLogs
	}
}

func (n *Node) openTransport(cfg Config, logger hclog.Logger) (raft.Transport, []raft.Server, error) {
	if len(cfg.Peers) == 0 {
		addr, trans := raft.NewInmemTransport("")
		return trans, []raft.Server{{ID: raft.ServerID(cfg.ID), Address: addr}}, nil
	}
	var bind string
	servers := make([]raft.Server, 0, len(cfg.Peers))
	for _, p := range cfg.Peers {
		servers = append(servers, raft.Server{ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Address)})
		if p.ID == cfg.ID {
			bind = p.Address
		}
	}
	if bind == "" {
		return nil, nil, fmt.Errorf("membership: node ID %q is not in the initial cluster", cfg.ID)
	}
	trans, err := raft.NewTCPTransportWithLogger(bind, nil, 3, 10*time.Second, logger)
	if err != nil {
		return nil, nil, fmt.Errorf("membership: listen for raft on %s: %w", bind, err)
	}
	n.closers = append(n.closers, trans)
	return trans, servers, nil
}

func (n *Node) openStores(dir string, logger hclog.Logger) (raft.LogStore, raft.StableStore, raft.SnapshotStore, error) {
	if dir == "" {
		store := raft.NewInmemStore()
		return store, store, raft.NewInmemSnapshotStore(), nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, nil, fmt.Errorf("membership: create raft directory: %w", err)
	}
	bolt, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("membership: open raft log store: %w", err)
	}
	n.closers = append(n.closers, bolt)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, logger)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("membership: open raft snapshot store: %w", err)
	}
	return bolt, bolt, snaps, nil
}

// LeadershipChanges delivers true when this node becomes leader and false
// when it stops being one. Raft blocks until each value is taken, so the
// owner of the node must keep reading until Close.
func (n *Node) LeadershipChanges() <-chan bool { return n.notify }

// IsLeader reports whether this node is the leader now.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Leader returns the leader's ID, empty when unknown.
func (n *Node) Leader() string {
	_, id := n.raft.LeaderWithID()
	return string(id)
}

// CatchUp waits until every entry committed before now is applied, which a
// new leader does before it reads the state.
func (n *Node) CatchUp(timeout time.Duration) error {
	if err := n.raft.Barrier(timeout).Error(); err != nil {
		return fmt.Errorf("membership: wait for raft log: %w", err)
	}
	return nil
}

// Put replicates the state of one namespace; an empty state removes it.
func (n *Node) Put(namespace string, state Namespace) error {
	data, err := json.Marshal(putCommand{Namespace: namespace, State: state})
	if err != nil {
		return fmt.Errorf("membership: encode command: %w", err)
	}
	err = n.raft.Apply(data, applyTimeout).Error()
	if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
		return ErrNotLeader
	}
	if err != nil {
		return fmt.Errorf("membership: replicate namespace %q: %w", namespace, err)
	}
	return nil
}

// State returns a copy of the replicated state, as applied on this node.
func (n *Node) State() map[string]Namespace { return n.fsm.state() }

// Snapshot takes a Raft snapshot now (normally taken on a schedule).
func (n *Node) Snapshot() error {
	if err := n.raft.Snapshot().Error(); err != nil {
		return fmt.Errorf("membership: snapshot: %w", err)
	}
	return nil
}

// Close stops Raft and closes the transport and stores. A leader of a
// cluster first hands leadership to another node, so sidecars find a new
// leader without waiting for an election timeout.
func (n *Node) Close() error { return n.close(true) }

// Halt stops like a crashed process: no leadership transfer, so the others
// notice the loss only when their heartbeat timeout expires. Tests use it
// to kill a leader in-process.
func (n *Node) Halt() error { return n.close(false) }

func (n *Node) close(handOff bool) error {
	var err error
	if n.raft != nil {
		if handOff && n.IsLeader() && n.clustered {
			_ = n.raft.LeadershipTransfer().Error()
		}
		err = n.raft.Shutdown().Error()
	}
	n.closeResources()
	return err
}

func (n *Node) closeResources() {
	for i := len(n.closers) - 1; i >= 0; i-- {
		_ = n.closers[i].Close()
	}
	n.closers = nil
}
