package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/outrigger/outrigger/internal/options"
	"github.com/outrigger/outrigger/internal/placement"
	"github.com/outrigger/outrigger/internal/placement/membership"
)

// placementFlags are Dapr placement's flags, with its defaults.
type placementFlags struct {
	id                 string
	initialCluster     []string
	inmemStore         bool
	logStorePath       string
	port               int
	listenAddress      string
	healthzPort        int
	healthzAddress     string
	metadataEnabled    bool
	replicationFactor  int
	keepAliveTime      time.Duration
	keepAliveTimeout   time.Duration
	disseminateTimeout time.Duration
	coalesceWindow     time.Duration
	logLevel           string
	logFile            string
	logAsJSON          bool
	metricsPort        string
	metricsAddress     string
	enableMetrics      bool
}

// placementNotHonoured are accepted so Dapr's command lines and Helm chart
// work, but change nothing yet.
var placementNotHonoured = []string{"tls-enabled", "trust-domain", "trust-anchors-file", "sentry-address", "mode"}

func registerPlacementFlags(fs *pflag.FlagSet) *placementFlags {
	f := &placementFlags{}
	fs.SortFlags = true
	fs.StringVar(&f.id, "id", "dapr-placement-0", "This node's Raft ID; must appear in --initial-cluster")
	fs.StringSliceVar(&f.initialCluster, "initial-cluster", []string{"dapr-placement-0=127.0.0.1:8201"}, "The Raft cluster: comma-separated id=host:port of every node, this one included")
	fs.BoolVar(&f.inmemStore, "inmem-store-enabled", true, "Keep the Raft log and snapshots in memory unless --raft-logstore-path is set")
	fs.StringVar(&f.logStorePath, "raft-logstore-path", "", "Directory for the durable Raft log (bbolt) and snapshots")
	fs.IntVar(&f.port, "port", placement.DefaultPort, "gRPC port of the placement service")
	fs.StringVar(&f.listenAddress, "listen-address", "", "Address the gRPC server listens on (default all interfaces)")
	fs.IntVar(&f.healthzPort, "healthz-port", 8080, "HTTP port of the /healthz endpoint")
	fs.StringVar(&f.healthzAddress, "healthz-listen-address", "", "Address the healthz server listens on (default all interfaces)")
	fs.BoolVar(&f.metadataEnabled, "metadata-enabled", isTruthy(os.Getenv("DAPR_PLACEMENT_METADATA_ENABLED")), "Serve the placement tables at /placement/state on the healthz server (env DAPR_PLACEMENT_METADATA_ENABLED)")
	fs.IntVar(&f.replicationFactor, "replicationFactor", placement.DefaultReplicationFactor, "Virtual nodes per host on the sidecars' consistent-hash ring")
	fs.DurationVar(&f.keepAliveTime, "keepalive-time", placement.DefaultKeepAliveTime, "Interval of keepalive pings to sidecars, between 1s and 10s; a shorter one notices a lost sidecar sooner")
	fs.DurationVar(&f.keepAliveTimeout, "keepalive-timeout", placement.DefaultKeepAliveTimeout, "How long a sidecar has to answer a keepalive ping before its stream is closed, between 1s and 10s")
	fs.DurationVar(&f.disseminateTimeout, "disseminate-timeout", placement.DefaultDisseminateTimeout, "How long a dissemination round may take; sidecars that have not acknowledged by then are dropped")
	fs.DurationVar(&f.coalesceWindow, "disseminate-coalesce-window", 0, "If > 0, wait this long after a round before the next, so a burst of joins and leaves makes one round")
	fs.String("trust-domain", "localhost", "Trust domain of the control plane")
	fs.String("trust-anchors-file", "/var/run/secrets/dapr.io/tls/ca.crt", "Trust anchors of the control plane")
	fs.String("sentry-address", "dapr-sentry.default.svc:443", "Address of the Sentry service")
	fs.Bool("tls-enabled", false, "Serve gRPC with mTLS")
	fs.String("mode", "standalone", "Runtime mode: standalone or kubernetes")
	for _, name := range placementNotHonoured {
		fs.Lookup(name).Usage += " (accepted for compatibility; not yet honoured)"
	}
	fs.Int("max-api-level", 10, "Deprecated; ignored")
	fs.Int("min-api-level", 0, "Deprecated; ignored")
	for _, name := range []string{"max-api-level", "min-api-level"} {
		_ = fs.MarkDeprecated(name, "it has no effect")
	}
	fs.StringVar(&f.logLevel, "log-level", "info", "Options are debug, info, warn, error, or fatal")
	fs.StringVar(&f.logFile, "log-file", "", "Path to a file where logs are written")
	fs.BoolVar(&f.logAsJSON, "log-as-json", false, "Print logs as JSON")
	fs.StringVar(&f.metricsPort, "metrics-port", "9090", "Port of the Prometheus metrics server")
	fs.StringVar(&f.metricsAddress, "metrics-listen-address", "0.0.0.0", "Address the metrics server listens on")
	fs.BoolVar(&f.enableMetrics, "enable-metrics", true, "Serve Prometheus metrics")
	return f
}

func newPlacementCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "placement [flags]",
		Short: "Run the actor placement service (Dapr placement compatible)",
		Long: "Run the actor placement service, wire-compatible with Dapr's, so Dapr and " +
			"Outrigger sidecars can share it. Alone it is a single node; with " +
			"--initial-cluster of 3 or 5 nodes it replicates its membership with Raft " +
			"and only the leader serves sidecars. Accepts Dapr placement's flags; like " +
			"Dapr's, single-dash long flags work too: -port 50005.",
		Example: "  outrigger placement\n" +
			"  outrigger placement --id p0 --initial-cluster p0=10.0.0.1:8201,p1=10.0.0.2:8201,p2=10.0.0.3:8201 --raft-logstore-path /var/lib/placement",
		Args:               cobra.ArbitraryArgs,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPlacement(cmd, args)
		},
	}
	// Registered for the help output only; runPlacement parses a fresh set.
	registerPlacementFlags(cmd.Flags())
	return cmd
}

func runPlacement(cmd *cobra.Command, args []string) error {
	fs := pflag.NewFlagSet("placement", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := registerPlacementFlags(fs)
	if err := fs.Parse(options.NormalizeArgs(args)); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return cmd.Help()
		}
		return flagError(cmd, err)
	}
	if fs.NArg() > 0 {
		return flagError(cmd, fmt.Errorf("unexpected argument %q; only flags are accepted", fs.Arg(0)))
	}
	opts, err := f.options()
	if err != nil {
		return flagError(cmd, err)
	}

	logOut, closeLog, err := logOutput(f.logFile, cmd.OutOrStdout())
	if err != nil {
		return err
	}
	defer closeLog()
	log := newLogger(logOut, f.logLevel, f.logAsJSON)
	slog.SetDefault(log)
	opts.Logger = log
	opts.RaftLogLevel = raftLogLevel(f.logLevel)

	ctx, stop := withSignals(cmd.Context(), log, nil)
	defer stop()
	return servePlacement(ctx, f, opts, log)
}

// options validates the flags and turns them into service options.
func (f *placementFlags) options() (placement.Options, error) {
	for _, d := range []struct {
		name  string
		value time.Duration
	}{{"keepalive-time", f.keepAliveTime}, {"keepalive-timeout", f.keepAliveTimeout}} {
		if d.value < time.Second || d.value > 10*time.Second {
			return placement.Options{}, fmt.Errorf("invalid --%s %s: must be between 1s and 10s", d.name, d.value)
		}
	}
	if f.disseminateTimeout <= 0 {
		return placement.Options{}, fmt.Errorf("invalid --disseminate-timeout %s: must be > 0", f.disseminateTimeout)
	}
	if f.replicationFactor <= 0 {
		return placement.Options{}, fmt.Errorf("invalid --replicationFactor %d: must be > 0", f.replicationFactor)
	}
	switch f.logLevel {
	case "debug", "info", "warn", "error", "fatal":
	default:
		return placement.Options{}, fmt.Errorf("invalid --log-level %q: use debug, info, warn, error or fatal", f.logLevel)
	}
	peers, err := parseInitialCluster(f.initialCluster)
	if err != nil {
		return placement.Options{}, err
	}
	opts := placement.Options{
		ID:                 f.id,
		Peers:              peers,
		ReplicationFactor:  int64(f.replicationFactor),
		DisseminateTimeout: f.disseminateTimeout,
		CoalesceWindow:     f.coalesceWindow,
		KeepAliveTime:      f.keepAliveTime,
		KeepAliveTimeout:   f.keepAliveTimeout,
	}
	// As Dapr: a log store path makes the log durable, whatever
	// --inmem-store-enabled says.
	if f.logStorePath != "" {
		opts.DataDir = f.logStorePath
	}
	return opts, nil
}

// parseInitialCluster reads "id=host:port,..." as Dapr does.
func parseInitialCluster(entries []string) ([]membership.Peer, error) {
	var peers []membership.Peer
	for _, e := range entries {
		id, addr, ok := strings.Cut(e, "=")
		id, addr = strings.TrimSpace(id), strings.TrimSpace(addr)
		if !ok || id == "" || addr == "" {
			return nil, fmt.Errorf("invalid --initial-cluster entry %q: want id=host:port", e)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("invalid --initial-cluster entry %q: %w", e, err)
		}
		peers = append(peers, membership.Peer{ID: id, Address: addr})
	}
	return peers, nil
}

// servePlacement runs the service with its healthz and metrics servers
// until ctx ends, then stops all three.
func servePlacement(ctx context.Context, f *placementFlags, opts placement.Options, log *slog.Logger) error {
	lis, err := net.Listen("tcp", net.JoinHostPort(f.listenAddress, strconv.Itoa(f.port)))
	if err != nil {
		return fmt.Errorf("placement: listen on port %d: %w", f.port, err)
	}
	svc := placement.New(opts)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	serveHTTP := func(name, addr string, h http.Handler) {
		srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
		wg.Go(func() {
			log.Info("Serving "+name, "address", addr)
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- fmt.Errorf("placement %s server: %w", name, err)
				cancel()
			}
		})
		wg.Go(func() {
			<-ctx.Done()
			sctx, done := context.WithTimeout(context.Background(), 5*time.Second)
			defer done()
			_ = srv.Shutdown(sctx)
		})
	}
	serveHTTP("healthz", net.JoinHostPort(f.healthzAddress, strconv.Itoa(f.healthzPort)), svc.HealthHandler(f.metadataEnabled))
	if f.enableMetrics {
		serveHTTP("metrics", net.JoinHostPort(f.metricsAddress, f.metricsPort), svc.MetricsHandler())
	}
	wg.Go(func() {
		if err := svc.Run(ctx, lis); err != nil {
			errs <- err
		}
		cancel()
	})
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// raftLogLevel keeps Raft's chatty info logs for --log-level debug.
func raftLogLevel(level string) string {
	if level == "debug" {
		return "info"
	}
	return "warn"
}

func isTruthy(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "t", "yes", "y", "on":
		return true
	}
	return false
}

// usePlacementForRun gives `outrigger run` the placement address `dapr run`
// uses after `dapr init` when none is given, and says whether this process
// should serve it (ServeEmbedded shares the port with anyone already there).
func usePlacementForRun(flags *pflag.FlagSet, opts *options.Options) bool {
	if flags.Changed("placement-host-address") {
		return false
	}
	opts.PlacementHostAddresses = []string{placement.EmbeddedAddress}
	return true
}

// startEmbeddedPlacement runs placement.ServeEmbedded until the returned
// function is called, which stops it and waits.
func startEmbeddedPlacement(ctx context.Context, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		placement.ServeEmbedded(ctx, log)
	}()
	return func() {
		cancel()
		<-done
	}
}
