package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// lockKey is the metadata row Dapr's sidecars lock (SELECT ... FOR UPDATE)
// while migrating; we lock the same row so Dapr and Outrigger sidecars
// starting together never migrate at the same time.
const lockKey = "lock"

// migrate creates the metadata and state tables if needed and records the
// migration level Dapr expects, so a Dapr sidecar later finds nothing to do.
func migrate(ctx context.Context, db *pgxpool.Pool, l *layout, timeout time.Duration) error {
	if err := ensureMetadataTable(ctx, db, l, timeout); err != nil {
		return err
	}
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := db.Exec(lctx, "INSERT INTO "+l.meta.SQL()+" (key, value) VALUES ($1, 'lock') ON CONFLICT (key) DO NOTHING", lockKey)
	if err != nil {
		return fmt.Errorf("failed to create the migration lock row: %w", err)
	}
	// Waiting for another sidecar's migration may take longer than one
	// operation's timeout.
	mctx, cancel := context.WithTimeout(ctx, max(timeout, time.Minute))
	defer cancel()
	return pgx.BeginFunc(mctx, db, func(tx pgx.Tx) error {
		var v string
		err := tx.QueryRow(mctx, "SELECT value FROM "+l.meta.SQL()+" WHERE key = $1 FOR UPDATE", lockKey).Scan(&v)
		if err != nil {
			return fmt.Errorf("failed to acquire the migration lock: %w", err)
		}
		return migrateLocked(mctx, tx, l)
	})
}

// ensureMetadataTable creates Dapr's key/value metadata table. Concurrent
// CREATE TABLE IF NOT EXISTS can still fail on the catalog (a unique
// violation, or "type already exists"); that means another sidecar won the
// race, so try again: the next attempt sees its committed table.
func ensureMetadataTable(ctx context.Context, db *pgxpool.Pool, l *layout, timeout time.Duration) error {
	var err error
	for attempt := range 5 {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 20 * time.Millisecond)
		}
		qctx, cancel := context.WithTimeout(ctx, timeout)
		_, err = db.Exec(qctx, "CREATE TABLE IF NOT EXISTS "+l.meta.SQL()+" (key text NOT NULL PRIMARY KEY, value text NOT NULL)")
		cancel()
		if err == nil || !isCreateRace(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("failed to create metadata table %s: %w", l.meta.SQL(), err)
	}
	return nil
}

// migrateLocked runs with the lock held. Each step is idempotent, so it is
// safe whatever level is recorded (Dapr's v1 level is shared by all tables
// of one metadata table, so it says little about this table).
func migrateLocked(ctx context.Context, tx pgx.Tx, l *layout) error {
	if err := createStateTable(ctx, tx, l); err != nil {
		return err
	}
	var cur string
	err := tx.QueryRow(ctx, "SELECT value FROM "+l.meta.SQL()+" WHERE key = $1", l.migrationKey).Scan(&cur)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("failed to read the migration level: %w", err)
	}
	level, _ := strconv.Atoi(cur)
	if level >= l.migrationLevel {
		return nil
	}
	_, err = tx.Exec(ctx, "INSERT INTO "+l.meta.SQL()+" (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
		l.migrationKey, strconv.Itoa(l.migrationLevel))
	if err != nil {
		return fmt.Errorf("failed to record the migration level: %w", err)
	}
	return nil
}

func createStateTable(ctx context.Context, tx pgx.Tx, l *layout) error {
	if l.v2 {
		return createV2Table(ctx, tx, l.table.SQL())
	}
	return createV1Table(ctx, tx, l.table.SQL())
}

func createV1Table(ctx context.Context, tx pgx.Tx, t string) error {
	_, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+t+" (key text NOT NULL PRIMARY KEY, value jsonb NOT NULL, isbinary boolean NOT NULL, "+
		"insertdate timestamp with time zone NOT NULL DEFAULT now(), updatedate timestamp with time zone NULL, "+
		"expiredate timestamp with time zone)")
	if err != nil {
		return fmt.Errorf("failed to create state table %s: %w", t, err)
	}
	// Tables made by Dapr before its second migration lack expiredate. Look
	// first: ALTER TABLE would lock out running sidecars even as a no-op.
	var has bool
	err = tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'expiredate' AND NOT attisdropped)", t).Scan(&has)
	if err != nil {
		return fmt.Errorf("failed to inspect state table %s: %w", t, err)
	}
	if has {
		return nil
	}
	if _, err := tx.Exec(ctx, "ALTER TABLE "+t+" ADD COLUMN expiredate timestamp with time zone"); err != nil {
		return fmt.Errorf("failed to add expiredate to state table %s: %w", t, err)
	}
	return nil
}

func createV2Table(ctx context.Context, tx pgx.Tx, t string) error {
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", t).Scan(&exists); err != nil {
		return fmt.Errorf("failed to look up table %s: %w", t, err)
	}
	if exists {
		return nil
	}
	_, err := tx.Exec(ctx, "CREATE TABLE "+t+" (key text NOT NULL PRIMARY KEY, value bytea NOT NULL, "+
		"etag uuid NOT NULL DEFAULT gen_random_uuid(), created_at timestamp with time zone NOT NULL DEFAULT now(), "+
		"updated_at timestamp with time zone, expires_at timestamp with time zone)")
	if err != nil {
		return fmt.Errorf("failed to create state table %s: %w", t, err)
	}
	if _, err := tx.Exec(ctx, "CREATE INDEX ON "+t+" (expires_at)"); err != nil {
		return fmt.Errorf("failed to index state table %s: %w", t, err)
	}
	return nil
}

// isCreateRace reports the errors PostgreSQL gives when two sessions create
// the same table at once: unique_violation on pg_type, duplicate_object or
// duplicate_table.
func isCreateRace(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "23505", "42710", "42P07":
		return true
	}
	return false
}
