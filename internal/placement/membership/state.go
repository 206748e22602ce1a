// Package membership replicates the placement service's membership with
// Raft: for each namespace, the sidecars that host actors and the version of
// the table last disseminated to them. The leader writes it at the start of
// every dissemination round; a node that becomes leader starts from it, so a
// failover neither resets table versions nor makes the new leader forget the
// hosts that are still on their way to reconnect.
package membership

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"

	"github.com/hashicorp/raft"
)

// Host is one sidecar that hosts actors.
type Host struct {
	// Name is "<address>:<port>", the key of the host in the table.
	Name      string   `json:"name"`
	AppID     string   `json:"appId"`
	Namespace string   `json:"namespace"`
	Entities  []string `json:"entities"`
	Port      int64    `json:"port,omitempty"`
	// UpdatedAt is when the host last changed, in Unix nanoseconds.
	UpdatedAt int64 `json:"updatedAt"`
}

// Namespace is the replicated state of one namespace.
type Namespace struct {
	// Version is the version of the last table disseminated.
	Version uint64 `json:"version"`
	// Hosts are sorted by name.
	Hosts []Host `json:"hosts"`
}

// putCommand is the only Raft log entry: it replaces a namespace's state.
// Whole-namespace writes keep Apply idempotent and the FSM trivial.
type putCommand struct {
	Namespace string    `json:"namespace"`
	State     Namespace `json:"state"`
}

// fsm is the Raft state machine: namespace name → state.
type fsm struct {
	mu         sync.RWMutex
	namespaces map[string]Namespace
}

func newFSM() *fsm {
	return &fsm{namespaces: make(map[string]Namespace)}
}

func (f *fsm) Apply(entry *raft.Log) any {
	var cmd putCommand
	if err := json.Unmarshal(entry.Data, &cmd); err != nil {
		return fmt.Errorf("decode membership command: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(cmd.State.Hosts) == 0 && cmd.State.Version == 0 {
		delete(f.namespaces, cmd.Namespace)
		return nil
	}
	f.namespaces[cmd.Namespace] = cmd.State
	return nil
}

// state returns a copy of every namespace's state.
func (f *fsm) state() map[string]Namespace {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make(map[string]Namespace, len(f.namespaces))
	for name, ns := range f.namespaces {
		out[name] = Namespace{Version: ns.Version, Hosts: cloneHosts(ns.Hosts)}
	}
	return out
}

func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	data, err := json.Marshal(f.state())
	if err != nil {
		return nil, fmt.Errorf("encode membership snapshot: %w", err)
	}
	return snapshot(data), nil
}

func (f *fsm) Restore(r io.ReadCloser) error {
	defer r.Close()
	restored := make(map[string]Namespace)
	if err := json.NewDecoder(r).Decode(&restored); err != nil {
		return fmt.Errorf("decode membership snapshot: %w", err)
	}
	f.mu.Lock()
	f.namespaces = restored
	f.mu.Unlock()
	return nil
}

// snapshot is an encoded copy of the FSM taken under its lock, so Persist
// can run concurrently with Apply.
type snapshot []byte

func (s snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("write membership snapshot: %w", err)
	}
	return sink.Close()
}

func (snapshot) Release() {}

func cloneHosts(hosts []Host) []Host {
	out := slices.Clone(hosts)
	for i := range out {
		out[i].Entities = slices.Clone(out[i].Entities)
	}
	return out
}

// SortedNames returns the namespace names of state in order.
func SortedNames(state map[string]Namespace) []string {
	return slices.Sorted(maps.Keys(state))
}
