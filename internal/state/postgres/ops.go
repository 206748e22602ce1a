package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/internal/storeutil"
)

// row is one state row as selected by layout.selectCols.
type row struct {
	key      string
	value    []byte
	isBinary bool
	etag     string
	expires  *time.Time
}

func scanRow(r pgx.Row) (row, error) {
	var x row
	err := r.Scan(&x.key, &x.value, &x.isBinary, &x.etag, &x.expires)
	return x, err
}

// response turns a row into the API's view of it.
func (x row) response() (state.GetResponse, error) {
	data, err := decodeV1(x.value, x.isBinary)
	if err != nil {
		return state.GetResponse{}, fmt.Errorf("postgresql: key %q: %w", x.key, err)
	}
	resp := state.GetResponse{Found: true, Data: data, ETag: x.etag}
	if x.expires != nil {
		resp.Metadata = storeutil.ExpiryMetadata(*x.expires)
	}
	return resp, nil
}

// Get reads one key.
func (s *Store) Get(ctx context.Context, req state.GetRequest) (state.GetResponse, error) {
	var x row
	err := s.withRetry(ctx, func(ctx context.Context) error {
		ctx, cancel := s.opContext(ctx)
		defer cancel()
		var err error
		x, err = scanRow(s.db.QueryRow(ctx, s.l.getSQL, req.Key))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return state.GetResponse{}, nil
	}
	if err != nil {
		return state.GetResponse{}, fmt.Errorf("postgresql: get %q: %w", req.Key, err)
	}
	return x.response()
}

// BulkGet reads many keys with one query. Results follow the request order;
// missing keys come back with Found=false.
func (s *Store) BulkGet(ctx context.Context, reqs []state.GetRequest) ([]state.BulkItem, error) {
	if len(reqs) == 0 {
		return []state.BulkItem{}, nil
	}
	keys := make([]string, len(reqs))
	for i, r := range reqs {
		keys[i] = r.Key
	}
	var found map[string]row
	err := s.withRetry(ctx, func(ctx context.Context) error {
		var err error
		found, err = s.bulkRead(ctx, keys)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgresql: bulk get: %w", err)
	}
	items := make([]state.BulkItem, len(reqs))
	for i, k := range keys {
		items[i].Key = k
		x, ok := found[k]
		if !ok {
			continue
		}
		resp, err := x.response()
		if err != nil {
			items[i].Error = err.Error()
			continue
		}
		items[i].GetResponse = resp
	}
	return items, nil
}

func (s *Store) bulkRead(ctx context.Context, keys []string) (map[string]row, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	rows, err := s.db.Query(ctx, s.l.bulkGetSQL, keys)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	found := make(map[string]row, len(keys))
	for rows.Next() {
		x, err := scanRow(rows)
		if err != nil {
			return nil, err
		}
		found[x.key] = x
	}
	return found, rows.Err()
}

// Set writes one key.
func (s *Store) Set(ctx context.Context, req state.SetRequest) error {
	w, err := s.prepareSet(req)
	if err != nil {
		return err
	}
	return s.exec(ctx, w)
}

// Delete removes one key.
func (s *Store) Delete(ctx context.Context, req state.DeleteRequest) error {
	w, err := s.prepareDelete(req)
	if err != nil {
		return err
	}
	return s.exec(ctx, w)
}

// exec runs one write outside a transaction.
func (s *Store) exec(ctx context.Context, w write) error {
	return s.withRetry(ctx, func(ctx context.Context) error {
		ctx, cancel := s.opContext(ctx)
		defer cancel()
		return w.exec(ctx, s.db)
	})
}

// Multi applies the operations in one SQL transaction: any failure,
// including an ETag mismatch, rolls back all of them.
func (s *Store) Multi(ctx context.Context, req state.TransactionRequest) error {
	// Validate everything first, so a bad request never opens a transaction.
	writes, err := storeutil.PrepareOps(req.Operations, s.prepareSet, s.prepareDelete)
	if err != nil {
		return err
	}
	return s.execTx(ctx, writes)
}

// BulkSet writes many keys in one round trip. It is a transaction too,
// which is more than the contract asks.
func (s *Store) BulkSet(ctx context.Context, reqs []state.SetRequest) error {
	writes, err := prepareAll(reqs, s.prepareSet)
	if err != nil {
		return err
	}
	return s.execTx(ctx, writes)
}

// BulkDelete removes many keys in one round trip, as a transaction.
func (s *Store) BulkDelete(ctx context.Context, reqs []state.DeleteRequest) error {
	writes, err := prepareAll(reqs, s.prepareDelete)
	if err != nil {
		return err
	}
	return s.execTx(ctx, writes)
}

// prepareAll validates every request before anything is written.
func prepareAll[R any](reqs []R, prepare func(R) (write, error)) ([]write, error) {
	writes := make([]write, len(reqs))
	for i, r := range reqs {
		var err error
		if writes[i], err = prepare(r); err != nil {
			return nil, err
		}
	}
	return writes, nil
}

// execTx runs writes in one transaction, sent as one pipelined batch.
func (s *Store) execTx(ctx context.Context, writes []write) error {
	if len(writes) == 0 {
		return nil
	}
	return s.withRetry(ctx, func(ctx context.Context) error {
		ctx, cancel := s.opContext(ctx)
		defer cancel()
		return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			for _, w := range writes {
				b.Queue(w.sql, w.args...)
			}
			br := tx.SendBatch(ctx, b)
			for _, w := range writes {
				// After a failure the server skips the rest of the batch.
				if err := w.check(br.Exec()); err != nil {
					br.Close()
					return err
				}
			}
			return br.Close()
		})
	})
}

// write is one validated Set or Delete, ready to run.
type write struct {
	key       string
	sql       string
	args      []any
	etagCheck bool // zero rows affected means an ETag mismatch
	verb      string
}

func (w write) exec(ctx context.Context, db *pgxpool.Pool) error {
	return w.check(db.Exec(ctx, w.sql, w.args...))
}

// check turns a statement's outcome into the operation's result.
func (w write) check(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return fmt.Errorf("postgresql: %s %q: %w", w.verb, w.key, err)
	}
	if w.etagCheck && tag.RowsAffected() == 0 {
		return state.NewETagMismatch(nil)
	}
	return nil
}

func (s *Store) prepareSet(req state.SetRequest) (write, error) {
	if err := state.ValidateOptions(req.Options); err != nil {
		return write{}, err
	}
	ttl, err := ttlArg(req.Metadata)
	if err != nil {
		return write{}, err
	}
	w := write{key: req.Key, verb: "set"}
	switch {
	case state.HasETag(req.ETag):
		etag, err := s.l.parseETag(*req.ETag)
		if err != nil {
			return write{}, err
		}
		w.sql, w.etagCheck = s.l.updateETagSQL, true
		w.args = s.l.writeArgs(req.Key, req.Value, req.Binary, ttl, etag)
	case req.Options.Concurrency == state.FirstWrite:
		w.sql, w.etagCheck = s.l.insertSQL, true
		w.args = s.l.writeArgs(req.Key, req.Value, req.Binary, ttl, nil)
	default:
		w.sql = s.l.upsertSQL
		w.args = s.l.writeArgs(req.Key, req.Value, req.Binary, ttl, nil)
	}
	return w, nil
}

func (s *Store) prepareDelete(req state.DeleteRequest) (write, error) {
	if err := state.ValidateOptions(req.Options); err != nil {
		return write{}, err
	}
	w := write{key: req.Key, verb: "delete", sql: s.l.deleteSQL, args: []any{req.Key}}
	if state.HasETag(req.ETag) {
		etag, err := s.l.parseETag(*req.ETag)
		if err != nil {
			return write{}, err
		}
		w.sql, w.etagCheck = s.l.deleteETagSQL, true
		w.args = append(w.args, etag)
	}
	return w, nil
}
