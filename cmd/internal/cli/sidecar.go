package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/outrigger/outrigger/internal/options"
	"github.com/outrigger/outrigger/internal/runner"
	"github.com/outrigger/outrigger/internal/sidecar"
	"github.com/outrigger/outrigger/internal/version"
)

func newSidecarCommand(use string, aliases ...string) *cobra.Command {
	cmd := &cobra.Command{
		Use:     use + " [daprd flags]",
		Aliases: aliases,
		Short:   "Run a sidecar; accepts every daprd flag",
		Long: "Run one sidecar, configured with daprd's flags and environment " +
			"variables (DAPR_API_TOKEN, APP_API_TOKEN, NAMESPACE, …).\n" +
			"Like daprd, single-dash long flags work too: -app-id x.",
		Args: cobra.ArbitraryArgs,
		// daprd's parsing rules (single-dash long flags) need our own pass.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSidecar(cmd, args)
		},
	}
	// Registered for the help output only; runSidecar parses a fresh set.
	options.Register(cmd.Flags())
	return cmd
}

func runSidecar(cmd *cobra.Command, args []string) error {
	fs := pflag.NewFlagSet("daprd", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	v := options.Register(fs)
	if err := fs.Parse(options.NormalizeArgs(args)); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return cmd.Help()
		}
		return flagError(cmd, err)
	}
	if fs.NArg() > 0 {
		return flagError(cmd, fmt.Errorf("unexpected argument %q; only flags are accepted", fs.Arg(0)))
	}

	out := cmd.OutOrStdout()
	switch {
	case v.ShowVersion():
		fmt.Fprintln(out, version.Runtime())
		return nil
	case v.ShowBuildInfo():
		fmt.Fprintf(out, "Version: %s\nGit Commit: %s\nGit Version: %s\n", version.Runtime(), version.Commit(), gitVersion())
		return nil
	case v.WaitMode():
		port, err := v.HTTPPort()
		if err != nil {
			return err
		}
		runner.WaitOutbound(cmd.Context(), port, 60*time.Second, out)
		return nil
	}

	opts, err := v.Options(os.Getenv)
	if err != nil {
		return err
	}
	logOut, closeLog, err := logOutput(opts.LogFile, out)
	if err != nil {
		return err
	}
	defer closeLog()
	log := newLogger(logOut, opts.LogLevel, opts.LogAsJSON)
	// Libraries and components that log through slog.Default follow the
	// same level and format.
	slog.SetDefault(log)

	ctx, stop := withSignals(cmd.Context(), log, nil)
	defer stop()
	defer startRuntimeTuning(ctx, log, opts)()
	if err := sidecar.Run(ctx, opts, log); err != nil {
		return fmt.Errorf("sidecar failed: %w", err)
	}
	return nil
}

func gitVersion() string {
	if version.GitVersion != "" {
		return version.GitVersion
	}
	return "v" + version.Version
}
