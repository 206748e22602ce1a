package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// blocksKind is one load of the blocks suite: an API and the component
// behind it, each measured on a fresh sidecar.
type blocksKind struct {
	name  string // case name, blocks/<api>/<component>
	typ   string // component spec.type
	redis bool   // needs the Redis at -redis
}

var blocksKinds = []blocksKind{
	{name: "blocks/lock/sqlite", typ: "lock.sqlite"},
	{name: "blocks/lock/redis", typ: "lock.redis", redis: true},
	{name: "blocks/secrets/localfile", typ: "secretstores.local.file"},
	{name: "blocks/bindings/http", typ: "bindings.http"},
}

func selectBlocks(re *regexp.Regexp) []blocksKind {
	var out []blocksKind
	for _, k := range blocksKinds {
		if re.MatchString(k.name) {
			out = append(out, k)
		}
	}
	return out
}

// runBlocks measures every selected kind in turn.
func runBlocks(ctx context.Context, cfg config, rep *report, progress io.Writer) {
	for _, k := range selectBlocks(cfg.cases) {
		res := blocksResult{Name: k.name, Component: k.typ, Workers: cfg.concurrency}
		if k.redis {
			skip, err := redisAvailable(cfg.redisAddr)
			res.addError(err)
			res.Skipped = skip
			if skip != "" || err != nil {
				rep.Blocks = append(rep.Blocks, res)
				continue
			}
		}
		fmt.Fprintf(progress, "blocks: %s (%d warm-up ops, then %d workers for %v)\n", k.name, cfg.warmup, cfg.concurrency, cfg.blocksLoad)
		res.addError(runBlocksCase(ctx, cfg, k, &res))
		rep.Blocks = append(rep.Blocks, res)
	}
}

// blocksEnv is one case's setup: a temp dir for its data files, the echo
// app (bindings only), the sidecar and the load's client.
type blocksEnv struct {
	cfg  config
	kind blocksKind
	dir  string
	app  *echoApp
	s    *sidecar
	load blocksLoad
}

// blocksLoad is the client side of one case.
type blocksLoad interface {
	op(ctx context.Context, _ int) error
	requests() int64 // HTTP requests sent so far
	close() error    // removes what the load left behind
}

func runBlocksCase(ctx context.Context, cfg config, k blocksKind, res *blocksResult) (err error) {
	e := &blocksEnv{cfg: cfg, kind: k}
	defer func() { err = errors.Join(err, e.close()) }()
	if err := e.start(ctx); err != nil {
		return err
	}
	if p := drive(ctx, cfg.warmup, cfg.concurrency, e.load.op, randomKey); res.addErrorLog("warm-up", &p.errs) {
		return nil
	}
	return e.measure(ctx, res)
}

// start writes the component (and its data file), then starts the echo
// app when needed and the sidecar.
func (e *blocksEnv) start(ctx context.Context) error {
	var err error
	if e.dir, err = os.MkdirTemp("", "outrigger-bench-blocks-"); err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	run, err := runID()
	if err != nil {
		return err
	}
	echoURL := ""
	if e.kind.typ == "bindings.http" {
		if e.app, err = startEchoApp(); err != nil {
			return err
		}
		echoURL = fmt.Sprintf("http://127.0.0.1:%d/echo", e.app.httpPort)
	}
	yaml, err := blocksComponent(e.kind, e.dir, e.cfg.redisAddr, echoURL)
	if err != nil {
		return err
	}
	files := map[string]string{"component.yaml": yaml}
	if e.s, err = startReady(ctx, e.cfg.bin, sidecarOpts{appID: blocksAppID, files: files}); err != nil {
		return err
	}
	client := newKeepAliveClient()
	switch strings.Split(e.kind.name, "/")[1] {
	case "lock":
		e.load = newLockLoad(client, e.s.httpPort, run, e.kind.redis, e.cfg.redisAddr)
	case "secrets":
		e.load = newSecretLoad(client, e.s.httpPort)
	default:
		// Assigned only on success: a nil *bindingLoad in the interface
		// would not read as nil in close.
		b, err := newBindingLoad(client, e.s.httpPort)
		if err != nil {
			return err
		}
		e.load = b
	}
	return nil
}

// measure runs the closed loop bracketed by CPU readings.
func (e *blocksEnv) measure(ctx context.Context, res *blocksResult) error {
	cpu0, err := procCPU(e.s.pid())
	if err != nil {
		return err
	}
	self0, err := selfCPU()
	if err != nil {
		return err
	}
	req0 := e.load.requests()
	p := driveFor(ctx, e.cfg.blocksLoad, e.cfg.concurrency, e.load.op)
	cpu1, err := procCPU(e.s.pid())
	if err != nil {
		return err
	}
	self1, err := selfCPU()
	if err != nil {
		return err
	}
	m, err := procMem(e.s.pid())
	if err != nil {
		return err
	}
	res.addErrorLog("measured", &p.errs)
	res.fill(p, e.load.requests()-req0, cpu1-cpu0, self1-self0, m)
	return nil
}

// close stops the sidecar and the app and removes the data files.
func (e *blocksEnv) close() error {
	var errs []error
	if e.load != nil {
		errs = append(errs, e.load.close())
	}
	if e.s != nil {
		errs = append(errs, e.s.stop())
	}
	if e.app != nil {
		e.app.close()
	}
	if e.dir != "" {
		errs = append(errs, os.RemoveAll(e.dir))
	}
	return errors.Join(errs...)
}

// blocksAppID is the sidecars' app id; lock.redis keys carry it.
const blocksAppID = "bench"

// Component names the loads address.
const (
	lockStoreName   = "lockstore"
	secretStoreName = "secretstore"
	bindingName     = "echo"
)

// blocksComponent returns the case's Component YAML and writes the data
// file it names (the secrets file) into dir.
func blocksComponent(k blocksKind, dir, redisAddr, echoURL string) (string, error) {
	var name, meta string
	switch k.typ {
	case "lock.sqlite":
		name, meta = lockStoreName, metaItem("connectionString", dir+"/locks.db")
	case "lock.redis":
		name, meta = lockStoreName, metaItem("redisHost", redisAddr)
	case "secretstores.local.file":
		path := dir + "/secrets.json"
		if err := os.WriteFile(path, secretsFile(), 0o600); err != nil {
			return "", fmt.Errorf("write secrets file: %w", err)
		}
		name, meta = secretStoreName, metaItem("secretsFile", path)
	case "bindings.http":
		name, meta = bindingName, metaItem("url", echoURL)
	default:
		return "", fmt.Errorf("no component for %s", k.typ)
	}
	return "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: " + name +
		"\nspec:\n  type: " + k.typ + "\n  version: v1\n  metadata:\n" + meta, nil
}

func metaItem(name, value string) string {
	return "  - name: " + name + "\n    value: " + strconv.Quote(value) + "\n"
}

// runID is 8 random hex digits that make a run's names unique.
func runID() (string, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("run id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// closeClient drops the client's idle connections.
func closeClient(c *http.Client) { c.CloseIdleConnections() }
