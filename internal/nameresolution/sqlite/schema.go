package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
)

// The layout matches Dapr's SQLite name resolver so Dapr sidecars and ours
// can share one file: a key/value metadata table recording the migration
// level under "nr-migrations", and a hosts table with one row per sidecar.
const migrationKey = "nr-migrations"

// migrate creates the tables if needed, under an exclusive lock so that
// sidecars starting together do not race.
func migrate(ctx context.Context, db *sql.DB, table, metadataTable string) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("get connection: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE TRANSACTION"); err != nil {
		return fmt.Errorf("lock database: %w", err)
	}
	defer func() {
		if err != nil {
			// A fresh context: the caller's may be what failed.
			_, rbErr := conn.ExecContext(context.Background(), "ROLLBACK TRANSACTION")
			err = errors.Join(err, rbErr)
		}
	}()

	if _, err := conn.ExecContext(ctx, fmt.Sprintf(
		`CREATE TABLE IF NOT EXISTS %s (key text NOT NULL PRIMARY KEY, value text NOT NULL)`, metadataTable)); err != nil {
		return fmt.Errorf("create metadata table: %w", err)
	}
	level, err := migrationLevel(ctx, conn, metadataTable)
	if err != nil {
		return err
	}
	if level < 1 {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %[1]s (
	registration_id TEXT NOT NULL PRIMARY KEY,
	address TEXT NOT NULL,
	app_id TEXT NOT NULL,
	namespace TEXT NOT NULL,
	last_update INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS %[1]s_address_idx ON %[1]s (address);
CREATE INDEX IF NOT EXISTS %[1]s_last_update_idx ON %[1]s (last_update);`, table)); err != nil {
			return fmt.Errorf("create hosts table: %w", err)
		}
		if _, err := conn.ExecContext(ctx, fmt.Sprintf(
			`REPLACE INTO %s (key, value) VALUES (?, '1')`, metadataTable), migrationKey); err != nil {
			return fmt.Errorf("record migration level: %w", err)
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT TRANSACTION"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func migrationLevel(ctx context.Context, conn *sql.Conn, metadataTable string) (int, error) {
	var v string
	err := conn.QueryRowContext(ctx, fmt.Sprintf(`SELECT value FROM %s WHERE key = ?`, metadataTable), migrationKey).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read migration level: %w", err)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("migration level %q in %s is not a number", v, metadataTable)
	}
	return n, nil
}
