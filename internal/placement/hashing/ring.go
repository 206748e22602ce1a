// Package hashing builds the consistent-hash ring a sidecar uses to find the
// owner of an actor from a placement table.
//
// Since Dapr 1.13 the placement service no longer sends the ring itself, only
// the hosts of each actor type and a replication factor; every sidecar builds
// the same ring from them. An Outrigger sidecar and a Dapr sidecar in one
// fleet must pick the same owner for every actor id, so this ring follows
// Dapr's construction exactly:
//
//   - A key's position is the first 8 bytes, read little-endian, of the
//     BLAKE2b-512 digest of the key.
//   - Each host gets replicationFactor virtual nodes, at the positions of the
//     keys host+"0", host+"1", … (the host's key in the table's load map
//     followed by the decimal index).
//   - An actor id is owned by the virtual node at the smallest position that
//     is greater than or equal to the id's position, wrapping to the smallest
//     position on the ring when there is none.
package hashing

import (
	"cmp"
	"encoding/binary"
	"maps"
	"slices"
	"strconv"

	"golang.org/x/crypto/blake2b"
)

// Host is one member of a ring, as the placement table describes it.
type Host struct {
	// Name is "<host>:<internal gRPC port>", the address to dial.
	Name      string
	AppID     string
	Namespace string
	Port      int64
}

// Hash is the ring position of key.
func Hash(key string) uint64 {
	sum := blake2b.Sum512([]byte(key))
	return binary.LittleEndian.Uint64(sum[:8])
}

// VirtualNodes returns the ring positions of host's virtual nodes.
func VirtualNodes(host string, replicationFactor int) []uint64 {
	if replicationFactor <= 0 {
		return nil
	}
	positions := make([]uint64, replicationFactor)
	for i := range positions {
		positions[i] = Hash(host + strconv.Itoa(i))
	}
	return positions
}

// Ring maps keys to hosts. It is immutable once built and safe for
// concurrent lookups.
type Ring struct {
	replicationFactor int
	// members are the hosts by their load-map key, kept for Equal.
	members map[string]Host
	// points are the virtual nodes sorted by position; owner[i] indexes
	// hosts for points[i].
	points []uint64
	owner  []int32
	hosts  []Host
}

// NewRing builds the ring of members (keyed as in the placement table's load
// map) with replicationFactor virtual nodes each. cache may be nil.
func NewRing(members map[string]Host, replicationFactor int, cache *VirtualNodeCache) *Ring {
	keys := make([]string, 0, len(members))
	for k := range members {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	type vnode struct {
		pos  uint64
		host int32
	}
	vnodes := make([]vnode, 0, len(keys)*max(replicationFactor, 0))
	hosts := make([]Host, len(keys))
	for i, k := range keys {
		hosts[i] = members[k]
		for _, pos := range cache.get(k, replicationFactor) {
			vnodes = append(vnodes, vnode{pos: pos, host: int32(i)})
		}
	}
	// Sorting by host index second makes a position shared by two hosts (a
	// 64-bit collision, never seen in practice) resolve the same way every
	// time: to the host whose key sorts first.
	slices.SortFunc(vnodes, func(a, b vnode) int {
		return cmp.Or(cmp.Compare(a.pos, b.pos), cmp.Compare(a.host, b.host))
	})
	vnodes = slices.CompactFunc(vnodes, func(a, b vnode) bool { return a.pos == b.pos })

	r := &Ring{
		replicationFactor: replicationFactor,
		members:           maps.Clone(members),
		points:            make([]uint64, len(vnodes)),
		owner:             make([]int32, len(vnodes)),
		hosts:             hosts,
	}
	for i, v := range vnodes {
		r.points[i] = v.pos
		r.owner[i] = v.host
	}
	return r
}

// Lookup returns the host that owns key; false when the ring is empty.
func (r *Ring) Lookup(key string) (Host, bool) {
	if len(r.points) == 0 {
		return Host{}, false
	}
	i, _ := slices.BinarySearch(r.points, Hash(key))
	if i == len(r.points) {
		i = 0
	}
	return r.hosts[r.owner[i]], true
}

// Hosts returns the ring's members, sorted by their load-map key.
func (r *Ring) Hosts() []Host {
	return slices.Clone(r.hosts)
}

// Equal reports whether r and o route every key to the same host: same
// replication factor and same members.
func (r *Ring) Equal(o *Ring) bool {
	if r == nil || o == nil {
		return r == o
	}
	if r.replicationFactor != o.replicationFactor || len(r.members) != len(o.members) {
		return false
	}
	for k, h := range r.members {
		if oh, ok := o.members[k]; !ok || oh != h {
			return false
		}
	}
	return true
}

// VirtualNodeCache remembers the virtual node positions of hosts across
// rebuilds of the ring: every table update rebuilds every actor type's ring,
// while the hosts rarely change. It is not safe for concurrent use.
type VirtualNodeCache struct {
	replicationFactor int
	positions         map[string][]uint64
}

// NewVirtualNodeCache returns an empty cache.
func NewVirtualNodeCache() *VirtualNodeCache {
	return &VirtualNodeCache{positions: map[string][]uint64{}}
}

// Prune forgets every host not in keep, so the cache does not grow with
// hosts that left the cluster.
func (c *VirtualNodeCache) Prune(keep func(host string) bool) {
	for h := range c.positions {
		if !keep(h) {
			delete(c.positions, h)
		}
	}
}

func (c *VirtualNodeCache) get(host string, replicationFactor int) []uint64 {
	if c == nil {
		return VirtualNodes(host, replicationFactor)
	}
	if c.replicationFactor != replicationFactor {
		clear(c.positions)
		c.replicationFactor = replicationFactor
	}
	if p, ok := c.positions[host]; ok {
		return p
	}
	p := VirtualNodes(host, replicationFactor)
	c.positions[host] = p
	return p
}
