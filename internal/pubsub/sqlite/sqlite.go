// Package sqlite is pubsub.sqlite, Outrigger's embedded durable default
// broker (not a Dapr component): messages live in a SQLite file (pure-Go
// modernc.org/sqlite), so they survive restarts and crashes, and several
// sidecars on one machine can share the file.
//
// Semantics: at-least-once. Publish returns once the message is committed.
// Each consumer group (consumerID) gets every message of its topics;
// subscribers of one group — in one process or several — share them
// through leases. A message is acknowledged when the handler returns nil;
// a handler error redelivers it after a backoff (retryBackoff, doubling up
// to maxRetryBackoff); a message whose handler does not finish within
// visibilityTimeout is delivered again; the leases of a crashed process
// are taken over once its heartbeats stop (a few seconds), those of a
// closed one at once. ttlInSeconds expires messages (MESSAGE_TTL); bulk
// publish commits all entries in one transaction (BULK_PUBSUB). The first
// group of a topic also gets what was published before anyone subscribed;
// a group joining a topic others consume starts with new messages. Up to
// `concurrency` handler calls run at once per subscription; messages with
// the same partitionKey run one at a time, in publish order.
//
// Metadata: connectionString (required: file path or file: URI),
// consumerID, concurrency (100), visibilityTimeout (30s; aliases
// redeliveryTimeout, processingTimeout), retryBackoff (100ms),
// maxRetryBackoff (10s), pollInterval (50ms), retentionPeriod (24h: how
// long messages of topics nobody subscribes to, and inactive groups, are
// kept; acknowledged messages go at the next cleanup), cleanupInterval
// (30s; 0 disables), tablePrefix ("pubsub_"), busyTimeout (5s), timeout
// (20s), disableWAL (false).
//
// Throughput comes from group commit (one transaction for all publishes
// and acknowledgements queued meanwhile; acknowledgements wait a few
// milliseconds to share one, and publishes a fraction of one while several
// publishers are busy), claims of many messages at once, in-process
// wake-ups of subscribers after a publish, a cheap poll of PRAGMA
// data_version for writes by other processes, and short sleeps while
// another process holds the write lock (lock.go).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/outrigger/outrigger/internal/pubsub"
)

func init() {
	pubsub.Registry.Register("pubsub.sqlite", func() pubsub.Broker { return New() })
}

// errClosed is returned by calls after Close.
var errClosed = errors.New("pubsub.sqlite: broker closed")

// Broker is the SQLite broker.
type Broker struct {
	cfg config
	log *slog.Logger
	id  string // this instance: the owner of its leases
	tbl tables
	sql statements
	// wdb has one connection: SQLite has one writer at a time, and queueing
	// writers in Go beats spinning on SQLITE_BUSY. rdb serves the reads.
	wdb, rdb *sql.DB
	w        *writer
	// lockWaits counts the times beginWrite found the write lock taken.
	lockWaits atomic.Int64

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // subscriptions and background loops

	mu     sync.RWMutex
	closed bool
	subs   map[*subscription]struct{}

	closeOnce sync.Once
	closeErr  error
}

// New returns an uninitialised broker.
func New() *Broker {
	ctx, cancel := context.WithCancel(context.Background())
	return &Broker{
		log:    slog.Default().With("component", "pubsub.sqlite"),
		id:     uuid.NewString(),
		ctx:    ctx,
		cancel: cancel,
		subs:   map[*subscription]struct{}{},
	}
}

// Init parses the metadata, opens the database, creates the tables when
// missing and starts the background loops.
func (b *Broker) Init(ctx context.Context, md pubsub.Metadata) error {
	cfg, err := parseConfig(md.Properties)
	if err != nil {
		return fmt.Errorf("pubsub.sqlite: %w", err)
	}
	b.cfg = cfg
	if md.Name != "" {
		b.log = b.log.With("name", md.Name)
	}
	b.tbl = newTables(cfg.tablePrefix)
	b.sql = newStatements(b.tbl)
	if err := b.open(); err != nil {
		return fmt.Errorf("pubsub.sqlite: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	if err := migrate(ctx, b.beginWrite, b.tbl); err != nil {
		return fmt.Errorf("pubsub.sqlite: %q: %w", cfg.connString, err)
	}
	if err := b.beat(ctx); err != nil {
		return fmt.Errorf("pubsub.sqlite: register instance: %w", err)
	}
	b.w = newWriter(b)
	b.start(b.heartbeatLoop)
	if !cfg.inMemory() {
		b.start(b.watchLoop)
	}
	if cfg.cleanupInterval > 0 {
		b.start(b.cleanupLoop)
	}
	return nil
}

// open creates the connection pools.
func (b *Broker) open() error {
	wdsn, err := b.cfg.writeDSN()
	if err != nil {
		return err
	}
	if b.wdb, err = sql.Open("sqlite", wdsn); err != nil {
		return fmt.Errorf("open: %w", err)
	}
	b.wdb.SetMaxOpenConns(1)
	b.wdb.SetMaxIdleConns(1)
	b.wdb.SetConnMaxLifetime(0)
	b.wdb.SetConnMaxIdleTime(0)
	if b.cfg.inMemory() {
		// Each connection to ":memory:" is its own database: keep one.
		b.rdb = b.wdb
		return nil
	}
	dsn, err := b.cfg.dsn()
	if err != nil {
		return err
	}
	if b.rdb, err = sql.Open("sqlite", dsn); err != nil {
		return fmt.Errorf("open: %w", err)
	}
	// One connection more than the CPUs for the data_version watcher.
	readers := max(4, runtime.GOMAXPROCS(0)) + 1
	b.rdb.SetMaxOpenConns(readers)
	b.rdb.SetMaxIdleConns(readers)
	b.rdb.SetConnMaxIdleTime(0)
	return nil
}

// dbContext bounds one database operation by the configured timeout, but
// not by ctx's cancellation: the driver interrupts a cancelled statement,
// which can leave the single write connection in a broken state (seen as
// SQLITE_BUSY_SNAPSHOT on the next transaction). Stopping waits for the
// short operation instead.
func (b *Broker) dbContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), b.cfg.timeout)
}

// start runs fn in a goroutine that Close waits for.
func (b *Broker) start(fn func(ctx context.Context)) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		fn(b.ctx)
	}()
}

// Features lists the broker's capabilities.
func (b *Broker) Features() []pubsub.Feature {
	return []pubsub.Feature{pubsub.FeatureMessageTTL, pubsub.FeatureBulkPublish}
}

// Close stops every subscription (handlers in flight see their context
// cancelled and are waited for), writes the outstanding acknowledgements,
// hands this instance's leases back and closes the database.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
		b.cancel()
		b.wg.Wait()
		var errs []error
		if b.w != nil {
			b.w.close()
			errs = append(errs, b.unregister())
		}
		if b.rdb != nil && b.rdb != b.wdb {
			errs = append(errs, b.rdb.Close())
		}
		if b.wdb != nil {
			errs = append(errs, b.wdb.Close())
		}
		b.closeErr = errors.Join(errs...)
	})
	return b.closeErr
}
