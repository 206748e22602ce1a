package cli

import "github.com/spf13/cobra"

var cobraCmdExit7 = cobra.Command{
	Use:  "exit7",
	RunE: func(*cobra.Command, []string) error { return exitCode(7) },
}
