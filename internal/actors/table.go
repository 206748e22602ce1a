package actors

import (
	"hash/maphash"
	"sync"
	"time"
)

// shardCount spreads the active actors over independently locked maps so
// concurrent calls to different actors rarely touch the same lock.
const shardCount = 64

type actorKey struct{ typ, id string }

// table holds the actors active on this host.
type table struct {
	seed   maphash.Seed
	shards [shardCount]shard
}

type shard struct {
	mu sync.RWMutex
	m  map[actorKey]*actor
	_  [40]byte // keep shards on separate cache lines
}

func newTable() *table {
	t := &table{seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].m = map[actorKey]*actor{}
	}
	return t
}

func (t *table) shard(typ, id string) *shard {
	h := maphash.String(t.seed, id) ^ maphash.String(t.seed, typ)<<1
	return &t.shards[h%shardCount]
}

// get returns the active actor, or nil.
func (t *table) get(typ, id string) *actor {
	s := t.shard(typ, id)
	s.mu.RLock()
	a := s.m[actorKey{typ, id}]
	s.mu.RUnlock()
	return a
}

// getOrCreate returns the active actor, adding it when missing.
func (t *table) getOrCreate(typ, id string) *actor {
	s := t.shard(typ, id)
	k := actorKey{typ, id}
	s.mu.RLock()
	a := s.m[k]
	s.mu.RUnlock()
	if a != nil {
		return a
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a = s.m[k]; a == nil {
		a = newActor(typ, id, time.Now())
		s.m[k] = a
	}
	return a
}

// remove takes a out of the table (if it is still the entry for its key)
// and wakes the calls waiting to route again.
func (t *table) remove(a *actor) {
	s := t.shard(a.typ, a.id)
	k := actorKey{a.typ, a.id}
	s.mu.Lock()
	if s.m[k] == a {
		delete(s.m, k)
	}
	s.mu.Unlock()
	close(a.gone)
}

// snapshot lists the active actors.
func (t *table) snapshot() []*actor {
	var out []*actor
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		for _, a := range s.m {
			out = append(out, a)
		}
		s.mu.RUnlock()
	}
	return out
}

// counts returns the number of active actors per type.
func (t *table) counts() map[string]int {
	out := map[string]int{}
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		for k := range s.m {
			out[k.typ]++
		}
		s.mu.RUnlock()
	}
	return out
}
