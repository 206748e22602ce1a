// Package sqlite is the "sqlite" name resolver (alpha in Dapr): sidecars on
// one host share a SQLite file in which each registers its app id and
// internal gRPC address and keeps a heartbeat. Resolve picks among the live
// rows of an app id, round-robin, through a short in-memory cache.
//
// The tables are Dapr's, so Dapr sidecars sharing the file see ours and the
// other way round. Differences from Dapr: the namespace column holds the
// sidecar's namespace (Dapr writes ""), and a namespaced request matches rows
// of that namespace or of none; a row counts as live for three update
// intervals (Dapr: one), and heartbeats come every half interval so that Dapr
// readers, with their stricter rule, see our rows too.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/outrigger/outrigger/internal/nameresolution"
	"github.com/outrigger/outrigger/internal/sqlitebusy"
)

func init() {
	nameresolution.Registry.Register("sqlite", func() nameresolution.Resolver { return New() })
}

const (
	// staleAfter is how many update intervals a row stays live without a
	// heartbeat.
	staleAfter = 3
	// cacheTTL bounds how long a resolved list is reused before the table
	// is read again.
	cacheTTL = time.Second
)

// Resolver registers this sidecar in the shared table and resolves others.
type Resolver struct {
	cfg     config
	db      *sql.DB
	regID   string
	address string
	appID   string
	ns      string
	log     *slog.Logger

	cache  *nameresolution.Cache
	flight nameresolution.Flight

	ctx    context.Context // ends on Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// New returns an uninitialised resolver.
func New() *Resolver {
	ctx, cancel := context.WithCancel(context.Background())
	return &Resolver{
		cache:  nameresolution.NewCache(),
		ctx:    ctx,
		cancel: cancel,
		log:    slog.Default().With("component", "nameresolution.sqlite"),
	}
}

// Init opens the database, creates the tables if needed, registers this
// sidecar and starts the heartbeat.
func (r *Resolver) Init(ctx context.Context, md nameresolution.Metadata) error {
	cfg, err := parseConfig(md.Configuration)
	if err != nil {
		return fmt.Errorf("sqlite name resolution: %w", err)
	}
	in := md.Instance
	switch {
	case in.AppID == "":
		return errors.New("sqlite name resolution: this sidecar has no app id")
	case in.HostAddress == "":
		return errors.New("sqlite name resolution: this sidecar has no host address")
	case in.DaprInternalPort <= 0:
		return errors.New("sqlite name resolution: this sidecar has no internal gRPC port")
	}
	r.cfg = cfg
	r.appID, r.ns = in.AppID, in.Namespace
	r.address = net.JoinHostPort(in.HostAddress, strconv.Itoa(in.DaprInternalPort))
	r.regID = uuid.NewString()

	if cfg.memory {
		r.log.Warn("name resolution database is in memory: other sidecars cannot see it, so only this app resolves")
	}
	r.db, err = sql.Open("sqlite", cfg.dsn)
	if err != nil {
		return fmt.Errorf("sqlite name resolution: open %s: %w", cfg.connString, err)
	}
	if cfg.memory {
		// Every connection to ":memory:" is a separate database.
		r.db.SetMaxOpenConns(1)
	}
	if err := r.start(ctx); err != nil {
		r.db.Close()
		r.db = nil
		return fmt.Errorf("sqlite name resolution (%s): %w", cfg.connString, err)
	}
	r.log.Info("registered in name resolution table", "appID", r.appID, "address", r.address, "table", cfg.table)
	return nil
}

func (r *Resolver) start(ctx context.Context) error {
	if err := r.migrate(ctx); err != nil {
		return fmt.Errorf("prepare tables: %w", err)
	}
	if err := r.register(ctx); err != nil {
		return err
	}
	r.wg.Add(1)
	go r.heartbeatLoop()
	if r.cfg.cleanupInterval > 0 {
		r.wg.Add(1)
		go r.cleanupLoop()
	}
	return nil
}

// migrate prepares the tables, retrying while other sidecars that start at
// the same moment hold the file: switching a new file to WAL mode fails
// with SQLITE_BUSY at once, without waiting for the busy timeout.
func (r *Resolver) migrate(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	wait := 20 * time.Millisecond
	for {
		err := migrate(ctx, r.db, r.cfg.table, r.cfg.metadataTable)
		if err == nil || !sqlitebusy.Is(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// Resolve returns the address of a live sidecar of req.ID.
func (r *Resolver) Resolve(ctx context.Context, req nameresolution.Request) (string, error) {
	if r.db == nil || r.ctx.Err() != nil {
		return "", errors.New("sqlite name resolution: not initialised or closed")
	}
	if req.ID == "" {
		return "", errors.New("sqlite name resolution: empty app id")
	}
	key := req.Namespace + "/" + req.ID
	if addr, _, ok := r.cache.Next(key); ok {
		return addr, nil
	}
	call := r.flight.Join(&r.wg, key, func(func([]string)) ([]string, error) {
		addrs, err := r.lookup(req.ID, req.Namespace)
		if err == nil {
			r.cache.Set(key, addrs, cacheTTL)
		}
		return addrs, err
	})
	addrs, err := call.Wait(ctx)
	if err != nil {
		return "", fmt.Errorf("sqlite name resolution of app id %q: %w", req.ID, err)
	}
	if len(addrs) == 0 {
		return "", fmt.Errorf("no live instances of app id %q found in the SQLite name resolution table %q (is its sidecar running with the same connectionString?)", req.ID, r.cfg.table)
	}
	if addr, _, ok := r.cache.Next(key); ok {
		return addr, nil
	}
	return addrs[0], nil
}

// lookup reads the live rows of an app id. An empty namespace matches all
// rows; otherwise rows of that namespace and rows without one (Dapr's).
func (r *Resolver) lookup(appID, ns string) ([]string, error) {
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.timeout)
	defer cancel()
	q := fmt.Sprintf(`SELECT address FROM %s
WHERE app_id = ? AND (? = '' OR namespace = ? OR namespace = '')
  AND last_update > unixepoch(CURRENT_TIMESTAMP) - ?
ORDER BY address`, r.cfg.table)
	rows, err := r.db.QueryContext(ctx, q, appID, ns, ns, r.liveSeconds())
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	var addrs []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
		addrs = append(addrs, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	return addrs, nil
}

func (r *Resolver) liveSeconds() int64 {
	return int64(staleAfter * r.cfg.updateInterval / time.Second)
}

// Close stops the heartbeat, removes this sidecar's row and closes the
// database.
func (r *Resolver) Close() error {
	var err error
	r.once.Do(func() {
		r.cancel()
		r.wg.Wait()
		if r.db == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), r.cfg.timeout)
		defer cancel()
		if _, derr := r.db.ExecContext(ctx, fmt.Sprintf(`DELETE FROM %s WHERE registration_id = ?`, r.cfg.table), r.regID); derr != nil {
			err = fmt.Errorf("sqlite name resolution: deregister: %w", derr)
		}
		err = errors.Join(err, r.db.Close())
	})
	return err
}
