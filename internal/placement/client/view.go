package client

import (
	"context"
	"fmt"
	"sort"

	v1pb "github.com/dapr/dapr/pkg/proto/placement/v1"

	"github.com/outrigger/outrigger/internal/actors"
	"github.com/outrigger/outrigger/internal/placement/hashing"
)

// view is one immutable state of the table as lookups see it. A change
// publishes a new view and closes the old one's changed channel, which is
// what waiting lookups block on.
type view struct {
	rings    map[string]*hashing.Ring // by actor type
	version  uint64
	hasTable bool
	// lost: cut off from placement past the grace period.
	lost bool
	// suspect: this process stalled; the table may be stale until
	// placement sends a fresh one (stall.go).
	suspect bool
	// blocked are the types whose ring changed in the round in progress:
	// their lookups wait for unlock, when every host has the new table.
	blocked map[string]struct{}
	changed chan struct{}
}

// LookupActor returns the owner of an actor. It waits, bounded by ctx,
// until the first table has arrived and while the actor's type is locked
// by a dissemination round. It fails at once with ErrPlacementUnreachable
// while placement is lost, and with actors.ErrNoHost when no host serves
// the type.
func (c *Client) LookupActor(ctx context.Context, actorType, actorID string) (actors.Host, error) {
	c.checkStall()
	for {
		v := c.view.Load()
		if v.lost {
			return actors.Host{}, ErrPlacementUnreachable
		}
		if v.hasTable && !v.suspect {
			if _, locked := v.blocked[actorType]; !locked {
				return v.lookup(actorType, actorID)
			}
		}
		select {
		case <-v.changed:
		case <-ctx.Done():
			return actors.Host{}, fmt.Errorf("wait for the actor placement table: %w", context.Cause(ctx))
		}
	}
}

// LookupActorNow answers from the table in place without waiting, for use
// inside TableUpdated (LookupActor would wait for the very round it is
// part of). Before the first table it returns actors.ErrNoHost.
func (c *Client) LookupActorNow(actorType, actorID string) (actors.Host, error) {
	return c.view.Load().lookup(actorType, actorID)
}

func (v *view) lookup(actorType, actorID string) (actors.Host, error) {
	ring := v.rings[actorType]
	if ring == nil {
		return actors.Host{}, actors.ErrNoHost
	}
	h, ok := ring.Lookup(actorID)
	if !ok {
		return actors.Host{}, actors.ErrNoHost
	}
	return actors.Host{Name: h.Name, AppID: h.AppID, Namespace: h.Namespace}, nil
}

// buildRings turns placement's tables into one ring per actor type. The
// ring is keyed by the load map's keys, as Dapr's sidecars do; the owner
// returned is the host's own name.
func buildRings(tables *v1pb.PlacementTables, cache *hashing.VirtualNodeCache) map[string]*hashing.Ring {
	factor := int(tables.GetReplicationFactor())
	rings := make(map[string]*hashing.Ring, len(tables.GetEntries()))
	seen := map[string]bool{}
	for typ, table := range tables.GetEntries() {
		members := make(map[string]hashing.Host, len(table.GetLoadMap()))
		for key, h := range table.GetLoadMap() {
			members[key] = hashing.Host{Name: h.GetName(), AppID: h.GetId(), Namespace: h.GetNamespace(), Port: h.GetPort()}
			seen[key] = true
		}
		rings[typ] = hashing.NewRing(members, factor, cache)
	}
	cache.Prune(func(host string) bool { return seen[host] })
	return rings
}

// changedTypes are the types whose ring differs between old and next,
// including types that appeared or disappeared.
func changedTypes(old, next map[string]*hashing.Ring) map[string]struct{} {
	changed := map[string]struct{}{}
	for typ, ring := range next {
		if !ring.Equal(old[typ]) {
			changed[typ] = struct{}{}
		}
	}
	for typ := range old {
		if _, ok := next[typ]; !ok {
			changed[typ] = struct{}{}
		}
	}
	return changed
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
