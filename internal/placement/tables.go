package placement

import (
	"slices"
	"strconv"

	v1pb "github.com/dapr/dapr/pkg/proto/placement/v1"

	"github.com/outrigger/outrigger/internal/placement/membership"
)

// Operations of a PlacementOrder.
const (
	opLock   = "lock"
	opUpdate = "update"
	opUnlock = "unlock"
)

// buildTables returns the table sidecars receive: for each actor type, the
// hosts serving it. Since Dapr 1.13 sidecars build the virtual-node ring
// themselves from these hosts and the replication factor, so the service
// sends no ring.
func buildTables(hosts []membership.Host, version uint64, replicationFactor int64) *v1pb.PlacementTables {
	t := &v1pb.PlacementTables{
		Entries:           make(map[string]*v1pb.PlacementTable),
		ReplicationFactor: replicationFactor,
		// Sidecars older than Dapr 1.14 read the version from here.
		//lint:ignore SA1019 kept for those sidecars
		Version: strconv.FormatUint(version, 10),
	}
	for _, h := range hosts {
		host := &v1pb.Host{
			Name:      h.Name,
			Port:      h.Port,
			Entities:  slices.Clone(h.Entities),
			Id:        h.AppID,
			Namespace: h.Namespace,
		}
		for _, actorType := range h.Entities {
			entry := t.Entries[actorType]
			if entry == nil {
				entry = &v1pb.PlacementTable{LoadMap: make(map[string]*v1pb.Host)}
				t.Entries[actorType] = entry
			}
			entry.LoadMap[h.Name] = host
		}
	}
	return t
}

func lockOrder(version uint64) *v1pb.PlacementOrder {
	return &v1pb.PlacementOrder{Operation: opLock, Version: version}
}

func updateOrder(version uint64, tables *v1pb.PlacementTables) *v1pb.PlacementOrder {
	return &v1pb.PlacementOrder{Operation: opUpdate, Version: version, Tables: tables}
}

func unlockOrder(version uint64) *v1pb.PlacementOrder {
	return &v1pb.PlacementOrder{Operation: opUnlock, Version: version}
}

// hostFromReport turns a sidecar's report into a membership host, with its
// actor types sorted and without duplicates so reports compare cheaply.
func hostFromReport(h *v1pb.Host, updatedAt int64) membership.Host {
	entities := slices.Clone(h.GetEntities())
	slices.Sort(entities)
	entities = slices.Compact(entities)
	return membership.Host{
		Name:      h.GetName(),
		AppID:     h.GetId(),
		Namespace: h.GetNamespace(),
		Entities:  entities,
		Port:      h.GetPort(),
		UpdatedAt: updatedAt,
	}
}

// sameInTable reports whether two reports of a host give the same table.
func sameInTable(a, b membership.Host) bool {
	return a.AppID == b.AppID && a.Port == b.Port && slices.Equal(a.Entities, b.Entities)
}
