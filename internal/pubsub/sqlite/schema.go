package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
)

// schemaVersion is recorded in the meta table; a file written by a newer
// layout is refused rather than misread.
const schemaVersion = 1

// tables are the table names under the configured prefix.
type tables struct {
	messages, groups, deliveries, consumers, meta string
}

func newTables(prefix string) tables {
	return tables{
		messages:   prefix + "messages",
		groups:     prefix + "groups",
		deliveries: prefix + "deliveries",
		consumers:  prefix + "consumers",
		meta:       prefix + "meta",
	}
}

// ddl creates the layout. Times are Unix milliseconds.
//
//   - messages: every published message. AUTOINCREMENT keeps ids growing
//     even after the newest row is deleted, so a group's cursor never
//     skips a message that reuses an old id.
//   - groups: one row per consumer group and topic; cursor is the last
//     message id handed out to the group.
//   - deliveries: messages handed out to a group but not yet acknowledged:
//     state 0 = leased to owner until lease_until, 1 = waiting to be
//     redelivered at lease_until.
//   - consumers: live broker instances and their last heartbeat, so the
//     leases of a crashed process are taken over quickly.
func (t tables) ddl() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + t.messages + ` (
			id INTEGER PRIMARY KEY AUTOINCREMENT,
			topic TEXT NOT NULL,
			data BLOB NOT NULL,
			content_type TEXT NOT NULL,
			metadata TEXT,
			created INTEGER NOT NULL,
			expires INTEGER
		)`,
		`CREATE INDEX IF NOT EXISTS ` + t.messages + `_topic ON ` + t.messages + ` (topic, id)`,
		`CREATE INDEX IF NOT EXISTS ` + t.messages + `_expires ON ` + t.messages + ` (expires) WHERE expires IS NOT NULL`,
		`CREATE TABLE IF NOT EXISTS ` + t.groups + ` (
			topic TEXT NOT NULL,
			grp TEXT NOT NULL,
			cursor INTEGER NOT NULL,
			last_seen INTEGER NOT NULL,
			PRIMARY KEY (topic, grp)
		) WITHOUT ROWID`,
		`CREATE TABLE IF NOT EXISTS ` + t.deliveries + ` (
			topic TEXT NOT NULL,
			grp TEXT NOT NULL,
			msg_id INTEGER NOT NULL,
			state INTEGER NOT NULL,
			owner TEXT NOT NULL,
			lease_until INTEGER NOT NULL,
			attempts INTEGER NOT NULL,
			PRIMARY KEY (topic, grp, msg_id)
		) WITHOUT ROWID`,
		`CREATE TABLE IF NOT EXISTS ` + t.consumers + ` (
			id TEXT NOT NULL PRIMARY KEY,
			heartbeat INTEGER NOT NULL
		) WITHOUT ROWID`,
	}
}

// migrate creates the tables when missing, under the write lock so
// processes sharing the file do not race.
func migrate(ctx context.Context, begin func(context.Context) (*sql.Tx, error), t tables) error {
	tx, err := begin(ctx)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+t.meta+` (key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("create table %s: %w", t.meta, err)
	}
	var v string
	err = tx.QueryRowContext(ctx, `SELECT value FROM `+t.meta+` WHERE key = 'schema'`).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fmt.Errorf("read schema version: %w", err)
	default:
		n, err := strconv.Atoi(v)
		if err != nil || n > schemaVersion {
			return fmt.Errorf("table %s records schema version %q; this build knows version %d", t.meta, v, schemaVersion)
		}
		if n == schemaVersion {
			return tx.Commit()
		}
	}
	for _, stmt := range t.ddl() {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `REPLACE INTO `+t.meta+` (key, value) VALUES ('schema', ?)`, strconv.Itoa(schemaVersion)); err != nil {
		return fmt.Errorf("record schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}
