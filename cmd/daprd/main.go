// Command daprd is Outrigger's sidecar under Dapr's binary name, so the Dapr
// CLI (~/.dapr/bin/daprd) and scripts written for daprd can run it. It is
// `outrigger sidecar`.
package main

import (
	"os"

	"github.com/outrigger/outrigger/cmd/internal/cli"
)

func main() {
	os.Exit(cli.Execute(cli.NewDaprd(), os.Args[1:]))
}
