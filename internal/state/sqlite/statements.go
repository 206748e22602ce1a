package sqlite

import "time"

// Times are UTC text with milliseconds ("2006-01-02 15:04:05.000"),
// computed in Go and bound as parameters: it keeps the SQL short, and the
// driver compiles the SQL text on every call. Dapr writes whole seconds and
// compares against CURRENT_TIMESTAMP; text comparison keeps both readings
// consistent: "…:01" < "…:01.000", so a Dapr row with expiry …:01 counts as
// expired from …:01.000 on, and our …:01.500 counts as live until …:02 for
// Dapr.
const timeLayout = "2006-01-02 15:04:05.000"

// liveCond takes the current time as its parameter.
const liveCond = `(expiration_time IS NULL OR expiration_time > ?)`

func sqlTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// statements holds the SQL text of each operation, built once at Init.
// They are not prepared: modernc.org/sqlite compiles the text on every
// execution anyway, so a *sql.Stmt would only add bookkeeping.
type statements struct {
	get        string // key -> value, is_binary, etag, expiration_time (expiry checked in Go)
	upsert     string // key, value, is_binary, etag, expiration_time
	insert     string // as upsert, then now; changes nothing when a live row exists
	update     string // value, is_binary, etag, expiration_time, key, old etag, now
	del        string // key
	delETag    string // key, etag, now
	delExpired string // now
	claimClean string // interval in ms; updates 'last-cleanup' if older
	bulkGet    string // head of the bulk query; the key list follows "IN ("
	keysLike   string // glob, after key, now, limit (-1 for none)
}

func newStatements(table, meta string) statements {
	upsert := `INSERT INTO ` + table + ` (key, value, is_binary, etag, expiration_time, update_time)
		VALUES (?, ?, ?, ?, ?, CURRENT_TIMESTAMP)
		ON CONFLICT (key) DO UPDATE SET
			value = excluded.value,
			is_binary = excluded.is_binary,
			etag = excluded.etag,
			expiration_time = excluded.expiration_time,
			update_time = excluded.update_time`
	return statements{
		get:    `SELECT value, is_binary, etag, expiration_time FROM ` + table + ` WHERE key = ?`,
		upsert: upsert,
		// An expired row that cleanup has not removed yet counts as absent.
		insert: upsert + ` WHERE ` + table + `.expiration_time IS NOT NULL AND ` + table + `.expiration_time <= ?`,
		update: `UPDATE ` + table + ` SET value = ?, is_binary = ?, etag = ?,
			expiration_time = ?, update_time = CURRENT_TIMESTAMP
			WHERE key = ? AND etag = ? AND ` + liveCond,
		del:        `DELETE FROM ` + table + ` WHERE key = ?`,
		delETag:    `DELETE FROM ` + table + ` WHERE key = ? AND etag = ? AND ` + liveCond,
		delExpired: `DELETE FROM ` + table + ` WHERE expiration_time IS NOT NULL AND expiration_time <= ?`,
		// Sidecars sharing the file coordinate through this row, as Dapr's
		// do: the upsert only touches it when the last cleanup is older
		// than the interval.
		claimClean: `INSERT INTO ` + meta + ` (key, value) VALUES ('last-cleanup', CURRENT_TIMESTAMP)
			ON CONFLICT (key) DO UPDATE SET value = CURRENT_TIMESTAMP
			WHERE (unixepoch(CURRENT_TIMESTAMP) - unixepoch(value)) * 1000 > ?`,
		bulkGet: `SELECT key, value, is_binary, etag, expiration_time FROM ` + table + ` WHERE key IN (`,
		keysLike: `SELECT key FROM ` + table + ` WHERE key GLOB ? AND key > ? AND ` + liveCond +
			` ORDER BY key LIMIT ?`,
	}
}
