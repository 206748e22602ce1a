package compat

import (
	"testing"

	"github.com/outrigger/outrigger/compat/harness"
)

// mesh gives every app id of a test its internal gRPC port up front, so all
// its sidecars carry the same static name resolution table and find each
// other without mDNS.
type mesh struct {
	ports  map[string]int
	config string
}

func newMesh(t *testing.T, appIDs ...string) *mesh {
	t.Helper()
	m := &mesh{ports: map[string]int{}}
	addrs := map[string]string{}
	for _, id := range appIDs {
		m.ports[id] = harness.FreePort(t)
		addrs[id] = harness.LoopbackAddr(m.ports[id])
	}
	m.config = harness.StaticResolverConfig(addrs)
	return m
}

// start launches the sidecar of one of the mesh's app ids.
func (m *mesh) start(t *testing.T, opts harness.Options) *harness.Sidecar {
	t.Helper()
	port, ok := m.ports[opts.AppID]
	if !ok {
		t.Fatalf("app id %s is not part of the mesh", opts.AppID)
	}
	opts.InternalGRPCPort = port
	opts.Config = m.config
	return harness.Start(t, opts)
}
