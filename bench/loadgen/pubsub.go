package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// pubsubName is the name of the pub/sub Component every sidecar loads.
const pubsubName = "ps"

// brokerKind is one broker the pubsub suite measures and the parts of the
// suite that apply to it.
type brokerKind struct {
	name   string // memory, sqlite, redis: the case name's second part
	typ    string // component spec.type
	shared bool   // one sidecar publishes and subscribes (in-memory has no other way)
	parts  []string
}

var brokerKinds = []brokerKind{
	{name: "memory", typ: "pubsub.in-memory", shared: true, parts: []string{"publish", "e2e", "bulk"}},
	{name: "sqlite", typ: "pubsub.sqlite", parts: []string{"publish", "e2e", "durability"}},
	{name: "redis", typ: "pubsub.redis", parts: []string{"publish", "e2e"}},
}

// selectParts returns the parts of k whose case name (pubsub/<broker>/<part>)
// matches re.
func selectParts(re *regexp.Regexp, k brokerKind) map[string]bool {
	out := map[string]bool{}
	for _, p := range k.parts {
		if re.MatchString("pubsub/" + k.name + "/" + p) {
			out[p] = true
		}
	}
	return out
}

// psTopics are one run's topic names, unique so runs never share Redis
// streams.
type psTopics struct {
	publish string // nobody subscribes: the publish-rate load
	e2e     string
	bulk    string // bulk subscription (in-memory)
	durable string // the kill -9 check (sqlite)
}

func newTopics() (psTopics, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return psTopics{}, fmt.Errorf("topic names: %w", err)
	}
	p := "bench" + hex.EncodeToString(b) + "."
	return psTopics{publish: p + "pub", e2e: p + "e2e", bulk: p + "bulk", durable: p + "dur"}, nil
}

// subscribed lists the topics the app subscribes to on this broker.
func (t psTopics) subscribed(k brokerKind) []string {
	switch k.name {
	case "memory":
		return []string{t.e2e, t.bulk}
	case "sqlite":
		return []string{t.e2e, t.durable}
	}
	return []string{t.e2e}
}

// runPubsub measures every selected broker in turn, each on its own
// sidecars and subscriber app.
func runPubsub(ctx context.Context, cfg config, rep *report, progress io.Writer) error {
	profiling := cfg.pubsubProfileDir != "" && rep.Profiling
	if cfg.pubsubProfileDir != "" && !profiling {
		rep.Notes = append(rep.Notes, "-pubsub-cpuprofile: the binary has no --enable-profiling flag; no profiles taken")
	}
	if profiling {
		if err := os.MkdirAll(cfg.pubsubProfileDir, 0o755); err != nil {
			return fmt.Errorf("-pubsub-cpuprofile: %w", err)
		}
	}
	for _, k := range brokerKinds {
		parts := selectParts(cfg.cases, k)
		if len(parts) == 0 {
			continue
		}
		res := pubsubResult{Broker: k.name, Type: k.typ, SameSidecar: k.shared}
		if k.name == "redis" {
			if skip, err := redisAvailable(cfg.redisAddr); err != nil {
				res.addError(err)
				rep.Pubsub = append(rep.Pubsub, res)
				continue
			} else if skip != "" {
				res.Skipped = skip
				rep.Pubsub = append(rep.Pubsub, res)
				continue
			}
		}
		fmt.Fprintf(progress, "pubsub: %s (%s)\n", k.name, strings.Join(sortedKeys(parts), ", "))
		env := &psEnv{cfg: cfg, kind: k, profiling: profiling, progress: progress}
		env.run(ctx, parts, &res)
		rep.Pubsub = append(rep.Pubsub, res)
		rep.Notes = append(rep.Notes, env.notes...)
	}
	return nil
}

// redisAvailable says why Redis cases are skipped ("" to run them). With
// CI=true an unreachable Redis is an error, as in the project's tests.
func redisAvailable(addr string) (skip string, err error) {
	if addr == "" {
		return "disabled by -redis \"\"", nil
	}
	if derr := redisPing(addr); derr != nil {
		if os.Getenv("CI") == "true" {
			return "", fmt.Errorf("redis at %s: %w", addr, derr)
		}
		return fmt.Sprintf("Redis unreachable at %s (%v): start redis-server there to measure pubsub.redis", addr, derr), nil
	}
	return "", nil
}

// psEnv is one broker's setup: the subscriber app, the publishing and the
// subscribing sidecar (the same one for in-memory) and the topics.
type psEnv struct {
	cfg       config
	kind      brokerKind
	profiling bool
	progress  io.Writer

	dir      string // holds the sqlite file shared by both sidecars
	topics   psTopics
	app      *subApp
	pub, sub *sidecar
	subOpts  sidecarOpts // to start the subscriber again after kill -9
	client   *http.Client
	phases   int
	notes    []string
}

// run sets up, runs the selected parts and tears down; failures land in res.
func (e *psEnv) run(ctx context.Context, parts map[string]bool, res *pubsubResult) {
	if err := e.start(ctx); err != nil {
		res.addError(err)
		res.addError(e.close())
		return
	}
	if err := e.runParts(ctx, parts, res); err != nil {
		res.addError(err)
	}
	res.addError(e.close())
	if n := e.app.strays.Load(); n > 0 {
		e.notes = append(e.notes, fmt.Sprintf("pubsub/%s: %d deliveries of probes or earlier phases arrived during later ones (ignored)", e.kind.name, n))
	}
	res.addErrorLog("subscriber app", &e.app.bad)
}

func (e *psEnv) runParts(ctx context.Context, parts map[string]bool, res *pubsubResult) error {
	if err := e.probe(ctx); err != nil {
		return err
	}
	if parts["publish"] {
		fmt.Fprintf(e.progress, "pubsub: %s publish rate (%d workers, %v)\n", e.kind.name, e.cfg.concurrency, e.cfg.pubsubLoad)
		p, err := e.publishRate(ctx, res)
		if err != nil {
			return err
		}
		res.Publish = &p
	}
	if parts["e2e"] {
		if err := e.endToEndLoads(ctx, res); err != nil {
			return err
		}
	}
	if parts["bulk"] {
		fmt.Fprintf(e.progress, "pubsub: %s bulk (bulk publish of %d, %d workers, %v; bulk subscribe)\n", e.kind.name, bulkEntries, bulkWorkers, e.cfg.pubsubLoad)
		b, err := e.endToEnd(ctx, e.topics.bulk, fmt.Sprintf("bulk %d×%d workers", bulkEntries, bulkWorkers), true, e.cfg.pubsubLoad, res,
			func(op opFunc) (*phase, []time.Duration) {
				return driveFor(ctx, e.cfg.pubsubLoad, bulkWorkers, op), nil
			})
		if err != nil {
			return err
		}
		res.Bulk = &b
	}
	if parts["durability"] {
		fmt.Fprintf(e.progress, "pubsub: %s durability (%d messages, subscriber sidecar killed with SIGKILL half-way)\n", e.kind.name, e.cfg.durableN)
		d, err := e.durability(ctx, res)
		if err != nil {
			return err
		}
		res.Durability = &d
	}
	return nil
}

// endToEndLoads runs an unmeasured warm-up, the open loop at -rate and the
// closed loop at full speed.
func (e *psEnv) endToEndLoads(ctx context.Context, res *pubsubResult) error {
	warm := func(op opFunc) (*phase, []time.Duration) {
		return drive(ctx, e.cfg.warmup, e.cfg.concurrency, op, randomKey), nil
	}
	if _, err := e.endToEnd(ctx, e.topics.e2e, "warm-up", false, 0, res, warm); err != nil {
		return err
	}
	fmt.Fprintf(e.progress, "pubsub: %s end to end, open loop %d msg/s for %v\n", e.kind.name, e.cfg.rate, e.cfg.duration)
	open, err := e.endToEnd(ctx, e.topics.e2e, fmt.Sprintf("open %d msg/s", e.cfg.rate), false, e.cfg.duration, res,
		func(op opFunc) (*phase, []time.Duration) {
			pc := pace(ctx, e.cfg.rate, e.cfg.duration, op)
			return pc.phase, pc.lags
		})
	if err != nil {
		return err
	}
	open.TargetRate = e.cfg.rate
	fmt.Fprintf(e.progress, "pubsub: %s end to end, max rate (%d workers, %v)\n", e.kind.name, e.cfg.concurrency, e.cfg.pubsubLoad)
	maxRate, err := e.endToEnd(ctx, e.topics.e2e, fmt.Sprintf("max (%d workers)", e.cfg.concurrency), false, e.cfg.pubsubLoad, res,
		func(op opFunc) (*phase, []time.Duration) {
			return driveFor(ctx, e.cfg.pubsubLoad, e.cfg.concurrency, op), nil
		})
	if err != nil {
		return err
	}
	res.E2E = append(res.E2E, open, maxRate)
	return nil
}

// start writes the component, starts the app and the sidecars: the
// subscriber first, so the publisher's first messages find a subscription.
func (e *psEnv) start(ctx context.Context) error {
	var err error
	if e.topics, err = newTopics(); err != nil {
		return err
	}
	if e.dir, err = os.MkdirTemp("", "outrigger-bench-ps-"); err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	subs, err := subscriptionsJSON(e.kind, e.topics)
	if err != nil {
		return err
	}
	if e.app, err = startSubApp(subs); err != nil {
		return err
	}
	files := map[string]string{"pubsub.yaml": componentYAML(e.kind, e.dir, e.cfg.redisAddr)}
	appID := "sub"
	if e.kind.shared {
		appID = "bench"
	}
	e.subOpts = sidecarOpts{appID: appID, profiling: e.profiling, files: files,
		args: []string{"--app-port", strconv.Itoa(e.app.port), "--app-protocol", "http"}}
	if e.sub, err = startReady(ctx, e.cfg.bin, e.subOpts); err != nil {
		return fmt.Errorf("subscriber sidecar: %w", err)
	}
	e.pub = e.sub
	if !e.kind.shared {
		if e.pub, err = startReady(ctx, e.cfg.bin, sidecarOpts{appID: "pub", profiling: e.profiling, files: files}); err != nil {
			return fmt.Errorf("publisher sidecar: %w", err)
		}
	}
	e.client = newKeepAliveClient()
	return nil
}

func startReady(ctx context.Context, bin string, o sidecarOpts) (*sidecar, error) {
	s, err := launch(bin, o)
	if err != nil {
		return nil, err
	}
	if _, err := s.waitReady(ctx); err != nil {
		return nil, errors.Join(err, s.stop())
	}
	return s, nil
}

// close stops the sidecars (publisher first), the app, and removes what
// the run left in Redis and on disk.
func (e *psEnv) close() error {
	var errs []error
	if e.client != nil {
		e.client.CloseIdleConnections()
	}
	if e.pub != nil && e.pub != e.sub {
		errs = append(errs, e.pub.stop())
	}
	if e.sub != nil {
		errs = append(errs, e.sub.stop())
	}
	if e.app != nil {
		e.app.close()
	}
	if e.kind.name == "redis" && e.topics.e2e != "" {
		t := e.topics
		if err := redisDel(e.cfg.redisAddr, t.publish, t.e2e); err != nil {
			errs = append(errs, fmt.Errorf("delete the run's Redis streams: %w", err))
		}
	}
	if e.dir != "" {
		os.RemoveAll(e.dir)
	}
	return errors.Join(errs...)
}

// componentYAML is the pub/sub Component: Dapr's defaults except for
// what the broker needs to run here.
func componentYAML(k brokerKind, dir, redisAddr string) string {
	var md [][2]string
	switch k.name {
	case "sqlite":
		md = [][2]string{{"connectionString", filepath.Join(dir, "ps.db")}}
	case "redis":
		// Dapr's runtime defaults, spelled out so the run does not depend
		// on ours.
		md = [][2]string{{"redisHost", redisAddr}, {"redeliverInterval", "15s"}, {"processingTimeout", "60s"}}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: %s\nspec:\n  type: %s\n  version: v1\n  metadata:", pubsubName, k.typ)
	if len(md) == 0 {
		b.WriteString(" []")
	}
	b.WriteString("\n")
	for _, kv := range md {
		fmt.Fprintf(&b, "  - name: %s\n    value: %s\n", kv[0], strconv.Quote(kv[1]))
	}
	return b.String()
}

// bulkWorkers is how many bulk publishes are in flight in the bulk load.
const bulkWorkers = 4

// subscriptionsJSON is the app's answer to GET /dapr/subscribe.
func subscriptionsJSON(k brokerKind, t psTopics) ([]byte, error) {
	type bulkSub struct {
		Enabled            bool `json:"enabled"`
		MaxMessagesCount   int  `json:"maxMessagesCount"`
		MaxAwaitDurationMs int  `json:"maxAwaitDurationMs"`
	}
	type sub struct {
		PubsubName    string   `json:"pubsubname"`
		Topic         string   `json:"topic"`
		Route         string   `json:"route"`
		BulkSubscribe *bulkSub `json:"bulkSubscribe,omitempty"`
	}
	var subs []sub
	for _, topic := range t.subscribed(k) {
		s := sub{PubsubName: pubsubName, Topic: topic, Route: "/events"}
		if topic == t.bulk {
			s.Route = "/bulk"
			s.BulkSubscribe = &bulkSub{Enabled: true, MaxMessagesCount: bulkEntries, MaxAwaitDurationMs: 20}
		}
		subs = append(subs, s)
	}
	b, err := json.Marshal(subs)
	if err != nil {
		return nil, fmt.Errorf("subscriptions: %w", err)
	}
	return b, nil
}

// newPhase returns a publisher for a fresh phase on topic and the sink
// that counts its deliveries.
func (e *psEnv) newPhase(topic string) (*publisher, *sink) {
	e.phases++
	return newPublisher(e.client, e.pub.httpPort, topic, e.app.base, e.phases), e.app.track(e.phases)
}

// probeTimeout bounds the wait for a subscription to carry its first
// message.
const probeTimeout = 20 * time.Second

// probe publishes to every subscribed topic until one message arrives, so
// the loads start with every subscription in place. A ready sidecar may
// still be discovering the app's subscriptions, and a broker may only
// deliver what is published after the subscription exists.
func (e *psEnv) probe(ctx context.Context) error {
	for _, topic := range e.topics.subscribed(e.kind) {
		if err := e.probeTopic(ctx, topic); err != nil {
			return err
		}
	}
	return nil
}

func (e *psEnv) probeTopic(ctx context.Context, topic string) error {
	p, s := e.newPhase(topic)
	deadline := time.Now().Add(probeTimeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := p.publish(ctx, 0); err != nil {
			return fmt.Errorf("probe %s: %w", topic, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if u, _ := s.counts(); u > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("probe %s: nothing delivered within %v; subscriber output: %s", topic, probeTimeout, e.sub.out.String())
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for _, k := range []string{"publish", "e2e", "bulk", "durability"} {
		if m[k] {
			out = append(out, k)
		}
	}
	return out
}
