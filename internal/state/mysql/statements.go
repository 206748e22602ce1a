package mysql

import (
	"context"
	"database/sql"
	"fmt"
)

const (
	liveCond = `(expiredate IS NULL OR expiredate > CURRENT_TIMESTAMP)`
	// expiresExpr takes the TTL in seconds, or NULL for no expiry. It
	// rounds the expiry up to the next whole second (the column has no
	// fraction), so an item never expires before its TTL has passed.
	expiresExpr = `FROM_UNIXTIME(CEIL(UNIX_TIMESTAMP(NOW(6))) + ?)`
)

// statements are prepared once at Init: with server-side prepared
// statements each call is one round trip instead of prepare, execute and
// close. database/sql re-prepares them on new connections by itself.
type statements struct {
	get        *sql.Stmt // id -> value, isbinary, eTag, expiry as unix seconds
	upsert     *sql.Stmt // id, value, isbinary, eTag, ttl
	insert     *sql.Stmt // id, value, isbinary, eTag, ttl; fails on a duplicate
	dropExpd   *sql.Stmt // id; removes the row if it has expired
	update     *sql.Stmt // value, isbinary, eTag, ttl, id, old eTag
	del        *sql.Stmt // id
	delETag    *sql.Stmt // id, eTag
	claimClean *sql.Stmt // interval in ms
	delExpired *sql.Stmt // no parameters
	keysLike   *sql.Stmt // pattern with '!' escapes (see rewriteLike), after id, limit
}

func prepare(ctx context.Context, db *sql.DB, table, meta string) (*statements, error) {
	cols := ` (id, value, isbinary, eTag, expiredate) VALUES (?, ?, ?, ?, ` + expiresExpr + `)`
	st := &statements{}
	list := []struct {
		dst  **sql.Stmt
		text string
	}{
		{&st.get, `SELECT value, isbinary, eTag, UNIX_TIMESTAMP(expiredate) FROM ` + table + ` WHERE id = ? AND ` + liveCond},
		// VALUES() rather than the row alias syntax: MariaDB lacks the latter.
		{&st.upsert, `INSERT INTO ` + table + cols + ` ON DUPLICATE KEY UPDATE
			value = VALUES(value), isbinary = VALUES(isbinary), eTag = VALUES(eTag), expiredate = VALUES(expiredate)`},
		{&st.insert, `INSERT INTO ` + table + cols},
		{&st.dropExpd, `DELETE FROM ` + table + ` WHERE id = ? AND expiredate IS NOT NULL AND expiredate <= CURRENT_TIMESTAMP`},
		{&st.update, `UPDATE ` + table + ` SET value = ?, isbinary = ?, eTag = ?, expiredate = ` + expiresExpr + `
			WHERE id = ? AND eTag = ? AND ` + liveCond},
		{&st.del, `DELETE FROM ` + table + ` WHERE id = ?`},
		{&st.delETag, `DELETE FROM ` + table + ` WHERE id = ? AND eTag = ? AND ` + liveCond},
		// Sidecars sharing the table coordinate through this row, as Dapr's
		// do: it only changes when the last cleanup is older than the
		// interval, and zero affected rows means "not our turn".
		{&st.claimClean, `INSERT INTO ` + meta + ` (id, value) VALUES ('last-cleanup', CURRENT_TIMESTAMP)
			ON DUPLICATE KEY UPDATE
			value = IF(CURRENT_TIMESTAMP > DATE_ADD(value, INTERVAL ?*1000 MICROSECOND), CURRENT_TIMESTAMP, value)`},
		{&st.delExpired, `DELETE FROM ` + table + ` WHERE expiredate IS NOT NULL AND expiredate <= CURRENT_TIMESTAMP`},
		{&st.keysLike, `SELECT id FROM ` + table + ` WHERE id LIKE ? ESCAPE '!' AND id > ? AND ` + liveCond +
			` ORDER BY id LIMIT ?`},
	}
	for _, p := range list {
		prepared, err := db.PrepareContext(ctx, p.text)
		if err != nil {
			st.close()
			return nil, fmt.Errorf("prepare %q: %w", p.text, err)
		}
		*p.dst = prepared
	}
	return st, nil
}

func (st *statements) close() {
	for _, p := range []*sql.Stmt{st.get, st.upsert, st.insert, st.dropExpd, st.update, st.del, st.delETag, st.claimClean, st.delExpired, st.keysLike} {
		if p != nil {
			_ = p.Close()
		}
	}
}
