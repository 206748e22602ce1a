package harness

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Component renders a Dapr Component resource (dapr.io/v1alpha1) as YAML.
// Values are written as double-quoted scalars so paths and numbers keep
// their exact text.
func Component(name, typ, version string, metadata map[string]string) string {
	var b strings.Builder
	b.WriteString("apiVersion: dapr.io/v1alpha1\n")
	b.WriteString("kind: Component\n")
	fmt.Fprintf(&b, "metadata:\n  name: %s\n", strconv.Quote(name))
	b.WriteString("spec:\n")
	fmt.Fprintf(&b, "  type: %s\n", strconv.Quote(typ))
	fmt.Fprintf(&b, "  version: %s\n", strconv.Quote(version))
	if len(metadata) == 0 {
		b.WriteString("  metadata: []\n")
		return b.String()
	}
	b.WriteString("  metadata:\n")
	for _, k := range slices.Sorted(maps.Keys(metadata)) {
		fmt.Fprintf(&b, "  - name: %s\n    value: %s\n", strconv.Quote(k), strconv.Quote(metadata[k]))
	}
	return b.String()
}
