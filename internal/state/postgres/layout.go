package postgres

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/google/uuid"

	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/internal/storeutil"
)

// layout is what differs between Dapr's v1 and v2 table layouts: the SQL
// (built once at Init from validated, quoted names) and how values and
// ETags are encoded.
//
// v1: key text PK, value jsonb, isbinary boolean, insertdate, updatedate,
// expiredate; the ETag is the row's xmin. Binary values are stored as a
// JSON string holding their base64 form, with isbinary = true.
// v2: key text PK, value bytea, etag uuid, created_at, updated_at,
// expires_at; values are stored as they are.
type layout struct {
	v2    bool
	table tableIdent
	meta  tableIdent

	// Keys in the metadata table, as Dapr names them.
	migrationKey   string
	migrationLevel int // the level Dapr records once its migrations ran
	cleanupKey     string

	selectCols string // key, value, isbinary, etag text, expiry
	expireCol  string
	etagCol    string

	getSQL, bulkGetSQL                  string
	upsertSQL, insertSQL, updateETagSQL string
	deleteSQL, deleteETagSQL            string
	cleanupGuardSQL, cleanupSQL         string
	keysLikeSQL                         string
}

func newLayout(c config, v2 bool) (*layout, error) {
	meta, err := parseTableIdent(c.metadataTableName)
	if err != nil {
		return nil, fmt.Errorf("metadataTableName: %w", err)
	}
	l := &layout{v2: v2, meta: meta}
	if v2 {
		// Dapr appends "state" to the prefix ("my_" -> my_state,
		// "schema." -> schema.state).
		if l.table, err = parseTableIdent(c.tablePrefix + "state"); err != nil {
			return nil, fmt.Errorf("tablePrefix: %w", err)
		}
		l.migrationKey = "migrations-state-v2-" + c.tablePrefix
		l.migrationLevel = 1
		l.cleanupKey = "last-cleanup-state-v2-" + c.tablePrefix
		l.selectCols = "key, value, false, etag::text, expires_at"
		l.expireCol, l.etagCol = "expires_at", "etag"
	} else {
		if l.table, err = parseTableIdent(c.tableName); err != nil {
			return nil, fmt.Errorf("tableName: %w", err)
		}
		// Dapr's v1 keeps one migration level per metadata table.
		l.migrationKey = "migrations"
		l.migrationLevel = 2
		l.cleanupKey = "last-cleanup"
		l.selectCols = "key, value, isbinary, xmin::text, expiredate"
		l.expireCol, l.etagCol = "expiredate", "xmin"
	}
	l.buildSQL()
	return l, nil
}

// notExpired is the condition for rows that are still alive.
func (l *layout) notExpired() string {
	return "(" + l.expireCol + " IS NULL OR " + l.expireCol + " >= now())"
}

func (l *layout) buildSQL() {
	t, m := l.table.SQL(), l.meta.SQL()
	l.getSQL = "SELECT " + l.selectCols + " FROM " + t + " WHERE key = $1 AND " + l.notExpired()
	l.bulkGetSQL = "SELECT " + l.selectCols + " FROM " + t + " WHERE key = ANY($1) AND " + l.notExpired()
	l.deleteSQL = "DELETE FROM " + t + " WHERE key = $1"
	l.deleteETagSQL = "DELETE FROM " + t + " WHERE key = $1 AND " + l.etagCol + " = $2 AND " + l.notExpired()
	l.cleanupSQL = "DELETE FROM " + t + " WHERE " + l.expireCol + " IS NOT NULL AND " + l.expireCol + " < now()"
	l.keysLikeSQL = "SELECT key FROM " + t + " WHERE key LIKE $1 AND key > $2 AND " + l.notExpired() + " ORDER BY key LIMIT $3"
	// The row is claimed only when the previous cleanup is older than the
	// interval ($2, in ms), so one sidecar among many does the work; the
	// key and value format are Dapr's, so Dapr sidecars take part too.
	l.cleanupGuardSQL = "INSERT INTO " + m + " AS m (key, value) VALUES ($1, now()::text) " +
		"ON CONFLICT (key) DO UPDATE SET value = now()::text " +
		"WHERE m.value::timestamptz < now() - $2::bigint * interval '1 millisecond'"

	if l.v2 {
		expire := "now() + $3::bigint * interval '1 second'"
		l.insertSQL = "INSERT INTO " + t + " AS t (key, value, etag, expires_at) VALUES ($1, $2, gen_random_uuid(), " + expire + ") " +
			"ON CONFLICT (key) DO UPDATE SET value = excluded.value, etag = gen_random_uuid(), updated_at = now(), expires_at = excluded.expires_at"
		l.updateETagSQL = "UPDATE " + t + " SET value = $2, etag = gen_random_uuid(), updated_at = now(), expires_at = " + expire +
			" WHERE key = $1 AND etag = $4 AND " + l.notExpired()
	} else {
		expire := "now() + $4::bigint * interval '1 second'"
		l.insertSQL = "INSERT INTO " + t + " AS t (key, value, isbinary, expiredate) VALUES ($1, $2, $3, " + expire + ") " +
			"ON CONFLICT (key) DO UPDATE SET value = excluded.value, isbinary = excluded.isbinary, updatedate = now(), expiredate = excluded.expiredate"
		l.updateETagSQL = "UPDATE " + t + " SET value = $2, isbinary = $3, updatedate = now(), expiredate = " + expire +
			" WHERE key = $1 AND xmin = $5 AND " + l.notExpired()
	}
	l.upsertSQL = l.insertSQL
	// First-write without an ETag only inserts; an existing row is replaced
	// only when it has expired but was not cleaned up yet.
	l.insertSQL += " WHERE t." + l.expireCol + " IS NOT NULL AND t." + l.expireCol + " < now()"
}

// parseETag validates an ETag and returns the query argument for it.
func (l *layout) parseETag(etag string) (any, error) {
	if l.v2 {
		u, err := uuid.Parse(etag)
		if err != nil {
			return nil, state.NewETagInvalid(err)
		}
		return u.String(), nil
	}
	n, err := strconv.ParseUint(etag, 10, 32)
	if err != nil {
		return nil, state.NewETagInvalid(err)
	}
	return uint32(n), nil
}

// writeArgs returns the arguments of insertSQL/upsertSQL (etag == nil) or
// updateETagSQL. ttl is nil for "never expires".
func (l *layout) writeArgs(key string, value []byte, binary bool, ttl *int64, etag any) []any {
	var args []any
	if l.v2 {
		args = []any{key, value, ttl}
	} else {
		v, isBinary := encodeV1(value, binary)
		args = []any{key, v, isBinary, ttl}
	}
	if etag != nil {
		args = append(args, etag)
	}
	return args
}

// encodeV1 returns the JSON text stored in the jsonb column. Values that are
// binary, or that jsonb would reject, are kept in Dapr's binary form so
// their bytes survive.
func encodeV1(value []byte, binary bool) (string, bool) {
	// jsonb also rejects the escape \u0000, valid JSON though it is.
	if !binary && json.Valid(value) && !bytes.Contains(value, []byte(`\u0000`)) {
		return string(value), false
	}
	return storeutil.EncodeBinaryJSON(value), true
}

// decodeV1 reverses encodeV1 for a row read back.
func decodeV1(value []byte, isBinary bool) ([]byte, error) {
	if !isBinary {
		return value, nil
	}
	return storeutil.DecodeBinaryJSON(value)
}
