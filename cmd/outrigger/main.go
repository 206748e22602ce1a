// Command outrigger is the Outrigger CLI: sidecar (daprd-compatible), run,
// init and version. The commands live in cmd/internal/cli.
package main

import (
	"os"

	"github.com/outrigger/outrigger/cmd/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args))
}
