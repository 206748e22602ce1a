package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/outrigger/outrigger/internal/defaults"
	"github.com/outrigger/outrigger/internal/options"
	"github.com/outrigger/outrigger/internal/runner"
	"github.com/outrigger/outrigger/internal/sidecar"
)

// runShorthands are the one-letter aliases of `dapr run`.
var runShorthands = map[string]string{
	"app-id":                  "a",
	"app-port":                "p",
	"app-protocol":            "P",
	"dapr-http-port":          "H",
	"dapr-grpc-port":          "G",
	"dapr-internal-grpc-port": "I",
	"metrics-port":            "M",
	"resources-path":          "d",
	"config":                  "c",
	"unix-domain-socket":      "u",
}

// runVisible are the flags `dapr run` documents; every other daprd flag is
// accepted too but hidden from the help to keep it readable.
var runVisible = map[string]bool{
	"app-id": true, "app-port": true, "app-protocol": true, "app-ssl": true,
	"dapr-http-port": true, "dapr-grpc-port": true, "dapr-internal-grpc-port": true,
	"metrics-port": true, "enable-metrics": true, "resources-path": true, "components-path": true,
	"config": true, "log-level": true, "log-as-json": true, "app-max-concurrency": true,
	"app-channel-address": true, "enable-api-logging": true, "max-body-size": true,
	"read-buffer-size": true, "dapr-http-max-request-size": true, "dapr-http-read-buffer-size": true,
	"unix-domain-socket": true, "enable-app-health-check": true, "app-health-check-path": true,
	"app-health-probe-interval": true, "app-health-probe-timeout": true, "app-health-threshold": true,
	"placement-host-address": true, "scheduler-host-address": true,
	"enable-profiling": true, "profile-port": true,
}

// defaultPorts are the ports `outrigger run` prefers when the user gives
// none, moving to a free port when they are taken (another app running).
var defaultPorts = []portDefault{
	{"dapr-http-port", 3500},
	{"dapr-grpc-port", 50001},
	{"metrics-port", 9090},
}

func newRunCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run [flags] [-- app command...]",
		Short: "Run a sidecar in process and, optionally, your app next to it",
		Long: "Run a sidecar inside this process and your app as a child process, like " +
			"`dapr run`. The app gets DAPR_HTTP_PORT, DAPR_GRPC_PORT, APP_ID, APP_PORT, " +
			"APP_PROTOCOL and DAPR_METRICS_PORT. Ctrl-C stops both; when the app exits, " +
			"the sidecar stops and the app's exit code is returned.\n\n" +
			"Every daprd flag is accepted; the common ones are listed below.",
		Example: "  outrigger run --app-id myapp --app-port 3000 -- node app.js\n" +
			"  outrigger run -a myapp -d ./components -- python app.py\n" +
			"  outrigger run --app-id myapp            # sidecar only",
		Args: cobra.ArbitraryArgs,
	}
	flags := cmd.Flags()
	// Everything after the first non-flag argument belongs to the app.
	flags.SetInterspersed(false)
	v := options.RegisterFor(flags, runShorthands, func(name string) bool {
		return name == "version" || name == "build-info" || name == "wait"
	})
	flags.VisitAll(func(f *pflag.Flag) { f.Hidden = f.Hidden || !runVisible[f.Name] })
	flags.Lookup("app-id").Usage += " (default: the current directory's name)"
	flags.Lookup("resources-path").Usage += " (default ~/.outrigger/components, created if missing)"
	flags.Lookup("config").Usage += " (default ~/.outrigger/config.yaml when it exists)"
	flags.Lookup("placement-host-address").Usage += " (default localhost:50005, served in process when nothing listens there)"
	for _, p := range defaultPorts {
		flags.Lookup(p.flag).Usage += "; if not given and taken, a free port is used"
	}

	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return runRun(cmd, v, args)
	}
	return cmd
}

func runRun(cmd *cobra.Command, v *options.Values, args []string) error {
	out := cmd.OutOrStdout()
	if err := applyRunDefaults(cmd.Flags(), out); err != nil {
		return err
	}
	opts, err := v.Options(os.Getenv)
	if err != nil {
		return err
	}
	embeddedPlacement := usePlacementForRun(cmd.Flags(), &opts)

	// Sidecar logs share the terminal with the app's, so they get a prefix.
	var logOut io.Writer = runner.NewPrefixWriter(out, "== OUTRIGGER == ")
	logOut, closeLog, err := logOutput(opts.LogFile, logOut)
	if err != nil {
		return err
	}
	defer closeLog()
	log := newLogger(logOut, opts.LogLevel, opts.LogAsJSON)
	// Libraries and components that log through slog.Default follow the
	// same level, format and prefix.
	slog.SetDefault(log)

	fmt.Fprintf(out, "Starting Outrigger with id %s. HTTP Port: %d. gRPC Port: %d\n", opts.AppID, opts.HTTPPort, opts.GRPCPort)
	r := &runner.Runner{
		Sidecar: sidecar.Run,
		Options: opts,
		Logger:  log,
		Command: args,
		Stdout:  out,
		Stderr:  cmd.ErrOrStderr(),
	}
	ctx, stop := withSignals(cmd.Context(), log, r.Kill)
	defer stop()
	defer startRuntimeTuning(ctx, log, opts)()
	if embeddedPlacement {
		defer startEmbeddedPlacement(ctx, log)()
	}
	code, err := r.Run(ctx)
	if err != nil {
		return err
	}
	if code != 0 {
		return exitCode(code)
	}
	return nil
}

// applyRunDefaults fills in what `dapr run` decides for the user: the
// resources and configuration from the Outrigger home, an app ID, and free
// ports when the usual ones are taken.
func applyRunDefaults(flags *pflag.FlagSet, out io.Writer) error {
	home, err := defaults.Home(os.Getenv)
	if err != nil {
		return err
	}
	if !flags.Changed("resources-path") && !flags.Changed("components-path") {
		written, err := defaults.Ensure(home, false)
		if err != nil {
			return fmt.Errorf("write default resources: %w", err)
		}
		for _, p := range written {
			fmt.Fprintf(out, "Wrote default %s\n", p)
		}
		if err := flags.Set("resources-path", defaults.ComponentsDir(home)); err != nil {
			return err
		}
	}
	if !flags.Changed("config") {
		cfg := defaults.ConfigFile(home)
		if _, err := os.Stat(cfg); err == nil {
			if err := flags.Set("config", cfg); err != nil {
				return err
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("check %s: %w", cfg, err)
		}
	}
	if !flags.Changed("app-id") {
		id := defaultAppID()
		fmt.Fprintf(out, "No --app-id given; using %q\n", id)
		if err := flags.Set("app-id", id); err != nil {
			return err
		}
	}
	return pickPorts(flags, out, defaultPorts)
}

// portDefault is a port flag and the port preferred when it is not given.
type portDefault struct {
	flag string
	port int
}

// pickPorts keeps explicit ports as given and chooses the others.
func pickPorts(flags *pflag.FlagSet, out io.Writer, defaultPorts []portDefault) error {
	var taken []int
	for _, name := range []string{"app-port", "dapr-http-port", "dapr-grpc-port", "metrics-port"} {
		if name == "app-port" || flags.Changed(name) {
			if n, err := strconv.Atoi(flags.Lookup(name).Value.String()); err == nil && n > 0 {
				taken = append(taken, n)
			}
		}
	}
	metricsOn, _ := flags.GetBool("enable-metrics")
	for _, p := range defaultPorts {
		if flags.Changed(p.flag) || (p.flag == "metrics-port" && !metricsOn) {
			continue
		}
		port, err := runner.PickPort(p.port, taken...)
		if err != nil {
			return fmt.Errorf("--%s: %w", p.flag, err)
		}
		if port != p.port {
			fmt.Fprintf(out, "Port %d is not available; using %d for --%s\n", p.port, port, p.flag)
		}
		taken = append(taken, port)
		if err := flags.Set(p.flag, strconv.Itoa(port)); err != nil {
			return err
		}
	}
	return nil
}

// defaultAppID derives an app ID from the working directory, so repeated
// runs of the same project keep the same ID (and so the same state keys).
func defaultAppID() string {
	dir, err := os.Getwd()
	if err != nil {
		return "app"
	}
	var b strings.Builder
	for _, r := range strings.ToLower(filepath.Base(dir)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteRune('-')
		}
	}
	if id := strings.Trim(b.String(), "-_"); id != "" {
		return id
	}
	return "app"
}
