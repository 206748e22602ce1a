// Package cli holds Outrigger's cobra commands. It lives under cmd/ so that
// both binaries (outrigger, and daprd for tools that look for that name)
// run the same commands; the logic lives in internal/.
package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/outrigger/outrigger/internal/version"
)

// Main runs the command line in args (os.Args) and returns the process exit
// code. A binary named daprd behaves like `outrigger sidecar`, so a copy or
// symlink can stand in for Dapr's runtime binary.
func Main(args []string) int {
	name := strings.TrimSuffix(filepath.Base(args[0]), ".exe")
	if name == "daprd" {
		return Execute(NewDaprd(), args[1:])
	}
	return Execute(NewRoot(), args[1:])
}

// Execute runs root with args and maps the outcome to an exit code.
func Execute(root *cobra.Command, args []string) int {
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	var code exitCode
	if errors.As(err, &code) {
		return int(code)
	}
	if err != nil {
		fmt.Fprintln(root.ErrOrStderr(), "Error:", err)
		return 1
	}
	return 0
}

// exitCode is returned by a command that wants a specific exit code without
// printing an error (outrigger run passing on the app's code).
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit code %d", int(c)) }

// NewRoot returns the `outrigger` command with all subcommands.
func NewRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "outrigger",
		Short:         "Outrigger: a sidecar runtime compatible with Dapr " + version.DaprCompat,
		Version:       version.Long(),
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(
		newSidecarCommand("sidecar", "daprd"),
		newRunCommand(),
		newInitCommand(),
		newPlacementCommand(),
		newVersionCommand(),
	)
	return root
}

// NewDaprd returns the sidecar command as a root command named daprd.
func NewDaprd() *cobra.Command {
	cmd := newSidecarCommand("daprd")
	cmd.SilenceErrors = true
	cmd.SilenceUsage = true
	return cmd
}

func flagError(cmd *cobra.Command, err error) error {
	return fmt.Errorf("%w (see '%s --help')", err, cmd.CommandPath())
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), version.Long())
			fmt.Fprintln(cmd.OutOrStdout(), "Runtime version (daprd --version): "+version.Runtime())
		},
	}
}
