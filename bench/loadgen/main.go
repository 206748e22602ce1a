// Command loadgen starts the built Outrigger sidecar and measures it from the
// outside, the way an operator would see it: binary size, startup time, idle
// and loaded memory, and state API throughput, latency and CPU per operation.
// See bench/README.md for what each figure means.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"syscall"
	"time"
)

type config struct {
	suite       string // state, invoke, pubsub, blocks, actors, overhead or all
	bin         string
	ops         int
	warmup      int
	concurrency int
	starts      int
	cases       *regexp.Regexp
	json        bool

	// Service invocation.
	rate           int           // open-loop requests per second
	duration       time.Duration // open-loop time per path
	closedDuration time.Duration // closed-loop time per path
	rounds         int           // each load's time is split into this many rounds of every path
	streamMiB      int
	profileDir     string // where to write the sidecars' CPU profiles; "" for none
	daprd          string // a Dapr daprd binary to measure side by side; "" for none

	// Pub/sub; the open loop uses rate and duration.
	pubsubLoad       time.Duration // publish-rate, max-rate and bulk loads
	durableN         int           // messages of the kill -9 check
	redisAddr        string        // "" skips pubsub.redis and lock.redis
	pubsubProfileDir string

	// Building blocks (locks, secrets, bindings).
	blocksLoad time.Duration // closed-loop time per case

	// Actors: closed-loop time per call load and the reminders' window.
	actorsLoad          time.Duration
	actorReminders      int
	actorsRate          int
	actorReminderPeriod time.Duration
	actorsProfileDir    string // where to write host A's CPU profile of the reminder window; "" for none

	// Overhead: closed-loop time per run and rounds of all variants.
	overheadLoad       time.Duration
	overheadRounds     int
	overheadProfileDir string // where to write each run's CPU and allocation profiles; "" for none
}

// runs reports whether the configured suite includes s.
func (c config) runs(s string) bool { return c.suite == "all" || c.suite == s }

func main() {
	if len(os.Args) > 1 && os.Args[1] == refProxyRole {
		if err := serveRefProxy(os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "loadgen %s: %v\n", refProxyRole, err)
			os.Exit(1)
		}
		return
	}
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	rep, err := run(ctx, cfg, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		os.Exit(1)
	}
	if err := write(os.Stdout, rep, cfg.json); err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		os.Exit(1)
	}
	// Targets are reported, never asserted: only errors fail the run.
	if n := rep.errorCount(); n > 0 {
		fmt.Fprintf(os.Stderr, "loadgen: %d error(s), see report\n", n)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	var cfg config
	var cases string
	fs.StringVar(&cfg.suite, "suite", "all", "what to measure: state, invoke, pubsub, blocks, actors, overhead or all")
	fs.StringVar(&cfg.bin, "bin", "bin/outrigger", "path to the outrigger binary")
	fs.IntVar(&cfg.ops, "ops", 20000, "measured operations per load case")
	fs.IntVar(&cfg.warmup, "warmup", 2000, "unmeasured warm-up operations per load case")
	fs.IntVar(&cfg.concurrency, "concurrency", 16, "concurrent workers per load case")
	fs.IntVar(&cfg.starts, "starts", 5, "sidecar starts per store for the startup figure")
	fs.StringVar(&cases, "cases", "", "regexp selecting load cases by name (store/transport/op, e.g. 'memory/http'; invoke/http, invoke/grpc, invoke/stream/upload, invoke/stream/download; pubsub/<memory|sqlite|redis>/<publish|e2e|bulk|durability>; blocks/lock/<sqlite|redis>, blocks/secrets/localfile, blocks/bindings/http; actors/activation, actors/<local|remote>/c<16|64>, actors/local/rate, actors/reminders)")
	fs.BoolVar(&cfg.json, "json", false, "print the report as JSON instead of a table")
	fs.IntVar(&cfg.rate, "rate", 1000, "invoke, pubsub: open-loop requests (messages) per second")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "invoke: open-loop time per path (direct, proxies, A→B); pubsub: open-loop time per broker")
	fs.DurationVar(&cfg.closedDuration, "closed-duration", 5*time.Second, "invoke: closed-loop time per path")
	fs.IntVar(&cfg.rounds, "rounds", 5, "invoke: interleaved rounds of every path each load is split into")
	fs.IntVar(&cfg.streamMiB, "stream-mib", 100, "invoke: MiB streamed through A→B in each direction")
	fs.StringVar(&cfg.profileDir, "invoke-cpuprofile", "", "invoke: write both sidecars' CPU profiles of each open loop to this dir")
	fs.StringVar(&cfg.daprd, "daprd", "", "invoke: path to a Dapr daprd binary; invoke/http and invoke/grpc then also measure two daprd side by side (found through mDNS, daprd's standalone default)")
	fs.DurationVar(&cfg.pubsubLoad, "pubsub-load", 3*time.Second, "pubsub: publishing time of the publish-rate, max-rate and bulk loads")
	fs.IntVar(&cfg.durableN, "pubsub-durable-n", 20000, "pubsub: messages published in the sqlite kill -9 check")
	fs.StringVar(&cfg.redisAddr, "redis", "127.0.0.1:6379", "pubsub, blocks: Redis for pubsub.redis and lock.redis (\"\" skips them)")
	fs.StringVar(&cfg.pubsubProfileDir, "pubsub-cpuprofile", "", "pubsub: write the sidecars' CPU profiles of the open-loop, max-rate and bulk loads to this dir")
	fs.DurationVar(&cfg.blocksLoad, "blocks-load", 5*time.Second, "blocks: closed-loop time per case")
	fs.DurationVar(&cfg.actorsLoad, "actors-load", 5*time.Second, "actors: closed-loop time per call load, and the window reminder firings are counted over")
	fs.IntVar(&cfg.actorReminders, "actors-reminders", 5000, "actors: reminders registered for the trigger-rate figure")
	fs.IntVar(&cfg.actorsRate, "actors-rate", 10000, "actors: calls per second of the open-loop local load (actors/local/rate)")
	fs.DurationVar(&cfg.actorReminderPeriod, "actors-reminder-period", 250*time.Millisecond, "actors: the reminders' period")
	fs.StringVar(&cfg.actorsProfileDir, "actors-cpuprofile", "", "actors: write host A's CPU profile of each call load and of the reminder window to this dir")
	fs.DurationVar(&cfg.overheadLoad, "overhead-load", 1500*time.Millisecond, "overhead: closed-loop time per run (one variant of one load on a fresh sidecar)")
	fs.IntVar(&cfg.overheadRounds, "overhead-rounds", 3, "overhead: rounds of all variants, in alternating order; figures are medians over them")
	fs.StringVar(&cfg.overheadProfileDir, "overhead-cpuprofile", "", "overhead: write each run's CPU and allocation profiles of its closed loop to this dir (sidecars get --enable-profiling)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := cfg.validate(); err != nil {
		return cfg, err
	}
	re, err := regexp.Compile(cases)
	if err != nil {
		return cfg, fmt.Errorf("-cases: %w", err)
	}
	cfg.cases = re
	return cfg, nil
}

func (c config) validate() error {
	switch c.suite {
	case "state", "invoke", "pubsub", "blocks", "actors", "overhead", "all":
	default:
		return fmt.Errorf("-suite %q: want state, invoke, pubsub, blocks, actors, overhead or all", c.suite)
	}
	if c.ops < 1 || c.warmup < 0 || c.concurrency < 1 || c.starts < 1 {
		return errors.New("-ops, -concurrency and -starts must be positive, -warmup not negative")
	}
	if c.rate < 1 || c.rounds < 1 || c.streamMiB < 1 {
		return errors.New("-rate, -rounds and -stream-mib must be positive")
	}
	if c.duration < time.Duration(c.rounds)*time.Second/time.Duration(c.rate) || c.closedDuration < time.Duration(c.rounds)*time.Millisecond {
		return errors.New("-duration and -closed-duration are too short for -rounds and -rate")
	}
	if c.pubsubLoad < 10*time.Millisecond || c.durableN < 2 {
		return errors.New("-pubsub-load must be at least 10ms and -pubsub-durable-n at least 2")
	}
	if c.blocksLoad < 10*time.Millisecond {
		return errors.New("-blocks-load must be at least 10ms")
	}
	if c.actorsLoad < 100*time.Millisecond || c.actorReminders < 1 || c.actorsRate < 1 || c.actorReminderPeriod < time.Millisecond {
		return errors.New("-actors-load must be at least 100ms, -actors-reminders positive and -actors-reminder-period at least 1ms")
	}
	if c.overheadLoad < 100*time.Millisecond || c.overheadRounds < 1 {
		return errors.New("-overhead-load must be at least 100ms and -overhead-rounds positive")
	}
	return nil
}

// run measures everything the config selects. A failure of one measurement
// is recorded in the report and the rest still run; the returned error is
// only for failures that make the whole report meaningless.
func run(ctx context.Context, cfg config, progress io.Writer) (*report, error) {
	rep, err := newReport(cfg)
	if err != nil {
		return nil, err
	}
	rep.Profiling = supportsProfiling(ctx, cfg.bin)
	if cfg.runs("state") {
		runState(ctx, cfg, rep, progress)
	}
	if cfg.runs("invoke") {
		if err := runInvoke(ctx, cfg, rep, progress); err != nil {
			return nil, err
		}
	}
	if cfg.runs("pubsub") {
		if err := runPubsub(ctx, cfg, rep, progress); err != nil {
			return nil, err
		}
	}
	if cfg.runs("blocks") {
		runBlocks(ctx, cfg, rep, progress)
	}
	if cfg.runs("actors") {
		runActors(ctx, cfg, rep, progress)
	}
	if cfg.runs("overhead") {
		runOverhead(ctx, cfg, rep, progress)
	}
	rep.Targets = checkTargets(rep)
	rep.addHeapNote()
	return rep, ctx.Err()
}

// runState measures startup and the state API load cases.
func runState(ctx context.Context, cfg config, rep *report, progress io.Writer) {
	if !rep.Profiling {
		rep.Notes = append(rep.Notes, "the binary has no --enable-profiling flag: Go heap in use is n/a")
	}
	for _, st := range stores {
		fmt.Fprintf(progress, "startup: %s (%d starts)\n", st.name, cfg.starts)
		rep.Startup = append(rep.Startup, measureStartup(ctx, cfg, st))
	}
	for _, c := range selectCases(cfg.cases) {
		fmt.Fprintf(progress, "load: %s (%d warm-up + %d ops, %d workers)\n", c.name(), cfg.warmup, cfg.ops, cfg.concurrency)
		rep.Cases = append(rep.Cases, runCase(ctx, cfg, c, rep.Profiling))
	}
}

func write(w io.Writer, rep *report, asJSON bool) error {
	if !asJSON {
		return printTable(w, rep)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	return nil
}
