package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/internal/storeutil"
)

// Get reads one live item.
func (s *Store) Get(ctx context.Context, req state.GetRequest) (state.GetResponse, error) {
	ctx, err := local(ctx)
	if err != nil {
		return state.GetResponse{}, err
	}
	var r row
	err = s.rdb.QueryRowContext(ctx, s.sql.get, req.Key).Scan(&r.value, &r.binary, &r.etag, &r.expires)
	if errors.Is(err, sql.ErrNoRows) {
		return state.GetResponse{}, nil
	}
	if err != nil {
		return state.GetResponse{}, fmt.Errorf("sqlite: get %q: %w", req.Key, err)
	}
	// Checked here rather than in SQL: shorter SQL compiles faster.
	if r.expires.valid && !r.expires.t.After(time.Now()) {
		return state.GetResponse{}, nil
	}
	res, err := r.response()
	if err != nil {
		return state.GetResponse{}, fmt.Errorf("sqlite: get %q: %w", req.Key, err)
	}
	return res, nil
}

// Set writes one item, following the concurrency rules in package state.
func (s *Store) Set(ctx context.Context, req state.SetRequest) error {
	w, err := newWrite(req)
	if err != nil {
		return err
	}
	ctx, err = local(ctx)
	if err != nil {
		return err
	}
	if err := s.set(ctx, s.wdb, w); err != nil {
		return fmt.Errorf("sqlite: set %q: %w", req.Key, err)
	}
	return nil
}

// Delete removes one item, conditionally when an ETag is given.
func (s *Store) Delete(ctx context.Context, req state.DeleteRequest) error {
	if err := state.ValidateOptions(req.Options); err != nil {
		return err
	}
	ctx, err := local(ctx)
	if err != nil {
		return err
	}
	if err := s.delete(ctx, s.wdb, req); err != nil {
		return fmt.Errorf("sqlite: delete %q: %w", req.Key, err)
	}
	return nil
}

// local prepares the context of a single-row operation. Such a statement
// takes microseconds and can only block on another process's lock, which
// busy_timeout bounds; a cancellable context would make the driver start a
// watcher goroutine per statement, which costs more than the statement.
func local(ctx context.Context) (context.Context, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return context.WithoutCancel(ctx), nil
}

// write is a validated, encoded SetRequest.
type write struct {
	req     state.SetRequest
	value   string
	expires any // sqlTime of the expiry, or nil
	now     string
}

func newWrite(req state.SetRequest) (write, error) {
	if err := state.ValidateOptions(req.Options); err != nil {
		return write{}, err
	}
	ttl, ok, err := storeutil.TTL(req.Metadata)
	if err != nil {
		return write{}, err
	}
	now := time.Now()
	w := write{req: req, now: sqlTime(now)}
	if ok {
		w.expires = sqlTime(now.Add(ttl))
	}
	if req.Binary {
		w.value = base64.StdEncoding.EncodeToString(req.Value)
	} else {
		w.value = string(req.Value)
	}
	return w, nil
}

// execer is a *sql.DB or a *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (s *Store) set(ctx context.Context, db execer, w write) error {
	etag, err := uuid.NewRandom()
	if err != nil {
		return fmt.Errorf("new etag: %w", err)
	}
	req := w.req
	var res sql.Result
	switch {
	case state.HasETag(req.ETag):
		res, err = db.ExecContext(ctx, s.sql.update, w.value, req.Binary, etag.String(), w.expires, req.Key, *req.ETag, w.now)
	case req.Options.Concurrency == state.FirstWrite:
		res, err = db.ExecContext(ctx, s.sql.insert, req.Key, w.value, req.Binary, etag.String(), w.expires, w.now)
	default:
		_, err = db.ExecContext(ctx, s.sql.upsert, req.Key, w.value, req.Binary, etag.String(), w.expires)
		return err
	}
	return storeutil.CheckAffected(res, err)
}

func (s *Store) delete(ctx context.Context, db execer, req state.DeleteRequest) error {
	if !state.HasETag(req.ETag) {
		_, err := db.ExecContext(ctx, s.sql.del, req.Key)
		return err
	}
	res, err := db.ExecContext(ctx, s.sql.delETag, req.Key, *req.ETag, sqlTime(time.Now()))
	return storeutil.CheckAffected(res, err)
}

// BulkGet reads many keys with one query per 500 keys. Results follow the
// request order; missing keys come back with Found=false.
func (s *Store) BulkGet(ctx context.Context, reqs []state.GetRequest) ([]state.BulkItem, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	now := time.Now()
	out, err := storeutil.BulkGet(reqs, func(keys []any, found map[string]state.GetResponse) error {
		return s.bulkChunk(ctx, keys, now, found)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: bulk get: %w", err)
	}
	return out, nil
}

func (s *Store) bulkChunk(ctx context.Context, keys []any, now time.Time, found map[string]state.GetResponse) error {
	return s.readRows(ctx, func(rows *sql.Rows) error {
		var key string
		var r row
		if err := rows.Scan(&key, &r.value, &r.binary, &r.etag, &r.expires); err != nil {
			return err
		}
		if r.expires.valid && !r.expires.t.After(now) {
			return nil
		}
		res, err := r.response()
		if err != nil {
			return fmt.Errorf("key %q: %w", key, err)
		}
		found[key] = res
		return nil
	}, s.sql.bulkGet+storeutil.Placeholders(len(keys))+")", keys...)
}

// Multi applies the operations in one SQLite transaction: an ETag failure
// in any step rolls back every step.
func (s *Store) Multi(ctx context.Context, req state.TransactionRequest) error {
	if len(req.Operations) == 0 {
		return nil
	}
	writes, err := storeutil.PrepareOps(req.Operations, newWrite, storeutil.ValidateDelete[write])
	if err != nil {
		return err
	}
	if len(req.Operations) == 1 {
		// One statement is atomic by itself.
		ctx, err := local(ctx)
		if err != nil {
			return err
		}
		return s.apply(ctx, s.wdb, req.Operations, writes)
	}
	// A transaction holds the only writer connection, so unlike single
	// writes it stays cancellable and bounded by the timeout.
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin transaction: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := s.apply(ctx, tx, req.Operations, writes); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit transaction: %w", err)
	}
	return nil
}

// apply runs the operations on db, the writer connection or a transaction.
func (s *Store) apply(ctx context.Context, db execer, ops []state.Operation, writes []write) error {
	err := storeutil.ApplyOps(ops, writes,
		func(w write) error { return s.set(ctx, db, w) },
		func(req state.DeleteRequest) error { return s.delete(ctx, db, req) })
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

// opContext bounds a multi-row operation by the configured timeout.
func (s *Store) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return storeutil.OpContext(ctx, s.cfg.timeout)
}

// row is one stored item as scanned from the state table.
type row struct {
	value   []byte
	binary  bool
	etag    string
	expires expiry
}

func (r row) response() (state.GetResponse, error) {
	data := r.value
	if r.binary {
		var err error
		if data, err = storeutil.DecodeBase64(r.value); err != nil {
			return state.GetResponse{}, err
		}
	}
	if data == nil {
		data = []byte{}
	}
	res := state.GetResponse{Found: true, Data: data, ETag: r.etag}
	if r.expires.valid {
		res.Metadata = storeutil.ExpiryMetadata(r.expires.t)
	}
	return res, nil
}

// expiry scans expiration_time. The driver hands TIMESTAMP text over as
// time.Time when it recognises the format, else as a string.
type expiry struct {
	t     time.Time
	valid bool
}

func (e *expiry) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*e = expiry{}
		return nil
	case time.Time:
		*e = expiry{t: x, valid: true}
		return nil
	case string:
		return e.parse(x)
	case []byte:
		return e.parse(string(x))
	}
	return fmt.Errorf("unexpected expiration_time type %T", v)
}

func (e *expiry) parse(s string) error {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999", time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			*e = expiry{t: t, valid: true}
			return nil
		}
	}
	return fmt.Errorf("unparsable expiration_time %q", s)
}
