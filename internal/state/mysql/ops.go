package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/internal/storeutil"
)

// MySQL error numbers handled here.
const (
	errDuplicateKey = 1062
	errDeadlock     = 1213
)

// Get reads one live item.
func (s *Store) Get(ctx context.Context, req state.GetRequest) (state.GetResponse, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	var r row
	err := s.stmts.get.QueryRowContext(ctx, req.Key).Scan(&r.value, &r.binary, &r.etag, &r.expires)
	if errors.Is(err, sql.ErrNoRows) {
		return state.GetResponse{}, nil
	}
	if err != nil {
		return state.GetResponse{}, fmt.Errorf("mysql: get %q: %w", req.Key, err)
	}
	res, err := r.response()
	if err != nil {
		return state.GetResponse{}, fmt.Errorf("mysql: get %q: %w", req.Key, err)
	}
	return res, nil
}

// Set writes one item, following the concurrency rules in package state.
func (s *Store) Set(ctx context.Context, req state.SetRequest) error {
	w, err := newWrite(req)
	if err != nil {
		return err
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	if err := s.set(ctx, direct, w); err != nil {
		return fmt.Errorf("mysql: set %q: %w", req.Key, err)
	}
	return nil
}

// Delete removes one item, conditionally when an ETag is given.
func (s *Store) Delete(ctx context.Context, req state.DeleteRequest) error {
	if err := state.ValidateOptions(req.Options); err != nil {
		return err
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	if err := s.delete(ctx, direct, req); err != nil {
		return fmt.Errorf("mysql: delete %q: %w", req.Key, err)
	}
	return nil
}

// write is a validated, encoded SetRequest.
type write struct {
	req    state.SetRequest
	value  string // JSON text for the value column
	binary bool
	ttl    any // whole seconds, or nil for no expiry
}

func newWrite(req state.SetRequest) (write, error) {
	if err := state.ValidateOptions(req.Options); err != nil {
		return write{}, err
	}
	ttl, ok, err := storeutil.TTL(req.Metadata)
	if err != nil {
		return write{}, err
	}
	w := write{req: req, binary: req.Binary}
	if ok {
		w.ttl = int64(ttl / time.Second)
	}
	// The column only takes valid JSON (in UTF-8): anything else is kept
	// in the binary form so it still reads back byte-exact.
	if !w.binary && (!utf8.Valid(req.Value) || !json.Valid(req.Value)) {
		w.binary = true
	}
	if w.binary {
		w.value = storeutil.EncodeBinaryJSON(req.Value)
	} else {
		w.value = string(req.Value)
	}
	return w, nil
}

// stmtFor adapts a prepared statement to the caller: the statement itself
// outside a transaction, or its transaction-bound copy inside one.
type stmtFor func(*sql.Stmt) *sql.Stmt

func direct(st *sql.Stmt) *sql.Stmt { return st }

func (s *Store) set(ctx context.Context, stmt stmtFor, w write) error {
	etag, err := uuid.NewRandom()
	if err != nil {
		return fmt.Errorf("new etag: %w", err)
	}
	req := w.req
	switch {
	case state.HasETag(req.ETag):
		res, err := stmt(s.stmts.update).ExecContext(ctx, w.value, w.binary, etag.String(), w.ttl, req.Key, *req.ETag)
		return storeutil.CheckAffected(res, err)
	case req.Options.Concurrency == state.FirstWrite:
		// An expired row that cleanup has not removed yet counts as absent.
		if _, err := stmt(s.stmts.dropExpd).ExecContext(ctx, req.Key); err != nil {
			return err
		}
		_, err = stmt(s.stmts.insert).ExecContext(ctx, req.Key, w.value, w.binary, etag.String(), w.ttl)
		if isMySQLError(err, errDuplicateKey) {
			return state.NewETagMismatch(nil)
		}
		return err
	default:
		_, err = stmt(s.stmts.upsert).ExecContext(ctx, req.Key, w.value, w.binary, etag.String(), w.ttl)
		return err
	}
}

func (s *Store) delete(ctx context.Context, stmt stmtFor, req state.DeleteRequest) error {
	if !state.HasETag(req.ETag) {
		_, err := stmt(s.stmts.del).ExecContext(ctx, req.Key)
		return err
	}
	res, err := stmt(s.stmts.delETag).ExecContext(ctx, req.Key, *req.ETag)
	return storeutil.CheckAffected(res, err)
}

func isMySQLError(err error, number uint16) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == number
}

// BulkGet reads many keys with one query per 500 keys. Results follow the
// request order; missing keys come back with Found=false.
func (s *Store) BulkGet(ctx context.Context, reqs []state.GetRequest) ([]state.BulkItem, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	out, err := storeutil.BulkGet(reqs, func(keys []any, found map[string]state.GetResponse) error {
		return s.bulkChunk(ctx, keys, found)
	})
	if err != nil {
		return nil, fmt.Errorf("mysql: bulk get: %w", err)
	}
	return out, nil
}

func (s *Store) bulkChunk(ctx context.Context, keys []any, found map[string]state.GetResponse) error {
	q := `SELECT id, value, isbinary, eTag, UNIX_TIMESTAMP(expiredate) FROM ` + s.cfg.tableName +
		` WHERE id IN (` + storeutil.Placeholders(len(keys)) + `) AND ` + liveCond
	rows, err := s.db.QueryContext(ctx, q, keys...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var r row
		if err := rows.Scan(&key, &r.value, &r.binary, &r.etag, &r.expires); err != nil {
			return err
		}
		res, err := r.response()
		if err != nil {
			return fmt.Errorf("key %q: %w", key, err)
		}
		found[key] = res
	}
	return rows.Err()
}

// Multi applies the operations in one database transaction: an ETag
// failure in any step rolls back every step. A transaction the server
// aborts as a deadlock victim is retried after a short random pause, as
// nothing of it was applied, for as long as the operation's timeout allows.
func (s *Store) Multi(ctx context.Context, req state.TransactionRequest) error {
	if len(req.Operations) == 0 {
		return nil
	}
	writes, err := storeutil.PrepareOps(req.Operations, newWrite, storeutil.ValidateDelete[write])
	if err != nil {
		return err
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	if len(req.Operations) == 1 {
		// One statement needs no transaction; this saves two round trips.
		// (A first-write is a delete of an expired row plus an insert;
		// the delete only removes what already counts as absent.)
		return s.apply(ctx, direct, req.Operations, writes)
	}
	for attempt := 0; ; attempt++ {
		err = s.multiOnce(ctx, req.Operations, writes)
		if !isMySQLError(err, errDeadlock) {
			return err
		}
		// The operation's deadline bounds the retries, not a count: under
		// heavy contention on a slow machine eight tries were not always
		// enough. The random pause grows to at most 80 ms.
		pause := time.Duration(1+rand.IntN(5<<min(attempt, 4))) * time.Millisecond
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}

// apply runs the operations with stmt, outside a transaction or in one.
func (s *Store) apply(ctx context.Context, stmt stmtFor, ops []state.Operation, writes []write) error {
	err := storeutil.ApplyOps(ops, writes,
		func(w write) error { return s.set(ctx, stmt, w) },
		func(req state.DeleteRequest) error { return s.delete(ctx, stmt, req) })
	if err != nil {
		return fmt.Errorf("mysql: %w", err)
	}
	return nil
}

func (s *Store) multiOnce(ctx context.Context, ops []state.Operation, writes []write) error {
	// READ COMMITTED takes no gap locks, which makes concurrent upserts
	// deadlock far less; the ETag checks lock the rows they read anyway.
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return fmt.Errorf("mysql: begin transaction: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	stmt := func(st *sql.Stmt) *sql.Stmt { return tx.StmtContext(ctx, st) }
	if err := s.apply(ctx, stmt, ops, writes); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("mysql: commit transaction: %w", err)
	}
	return nil
}

// row is one stored item as scanned from the state table.
type row struct {
	value   []byte
	binary  bool
	etag    string
	expires sql.NullFloat64 // unix seconds
}

func (r row) response() (state.GetResponse, error) {
	data := r.value
	if r.binary {
		var err error
		if data, err = storeutil.DecodeBinaryJSON(r.value); err != nil {
			return state.GetResponse{}, err
		}
	}
	if data == nil {
		data = []byte{}
	}
	res := state.GetResponse{Found: true, Data: data, ETag: r.etag}
	if r.expires.Valid {
		sec, frac := math.Modf(r.expires.Float64)
		t := time.Unix(int64(sec), int64(frac*1e9))
		res.Metadata = storeutil.ExpiryMetadata(t)
	}
	return res, nil
}
