package harness

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// StaticResolverConfig renders a Configuration resource that resolves app
// ids with Outrigger's "static" name resolver: apps maps each app id to its
// sidecar's internal gRPC address (host:port). Tests use it instead of
// mDNS so resolution is deterministic and stays on the loopback interface.
func StaticResolverConfig(apps map[string]string) string {
	var b strings.Builder
	b.WriteString("apiVersion: dapr.io/v1alpha1\n")
	b.WriteString("kind: Configuration\n")
	b.WriteString("metadata:\n  name: compat\n")
	b.WriteString("spec:\n")
	b.WriteString("  nameResolution:\n")
	b.WriteString("    component: static\n")
	b.WriteString("    configuration:\n")
	b.WriteString("      apps:\n")
	for _, id := range slices.Sorted(maps.Keys(apps)) {
		fmt.Fprintf(&b, "        %s: [%s]\n", strconv.Quote(id), strconv.Quote(apps[id]))
	}
	return b.String()
}

// LoopbackAddr is 127.0.0.1:port, e.g. a sidecar's internal gRPC address.
func LoopbackAddr(port int) string {
	return "127.0.0.1:" + strconv.Itoa(port)
}
