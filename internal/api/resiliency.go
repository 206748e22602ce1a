package api

import "github.com/outrigger/outrigger/internal/resiliency"

// outbound is the resiliency policy for the sidecar's calls to a
// component (the zero Policy, which just runs the call, when none applies).
func (c *Core) outbound(name string, kind resiliency.ComponentKind) resiliency.Policy {
	return c.resiliency.ComponentOutbound(name, kind)
}
