package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/outrigger/outrigger/internal/defaults"
)

func newInitCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write the default resources to ~/.outrigger (or $OUTRIGGER_HOME)",
		Long: "Write a SQLite state store component and a default Configuration to the " +
			"Outrigger home (~/.outrigger, or $OUTRIGGER_HOME). Existing files are kept " +
			"unless --force is given.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInit(cmd.OutOrStdout(), force)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "Overwrite existing files")
	return cmd
}

func runInit(out io.Writer, force bool) error {
	home, err := defaults.Home(os.Getenv)
	if err != nil {
		return err
	}
	written, err := defaults.Ensure(home, force)
	for _, p := range written {
		fmt.Fprintf(out, "Wrote %s\n", p)
	}
	if err != nil {
		return err
	}
	if len(written) == 0 {
		fmt.Fprintf(out, "Defaults already present in %s (use --force to overwrite)\n", home)
	}
	return nil
}
