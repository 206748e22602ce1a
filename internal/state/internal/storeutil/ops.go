package storeutil

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/outrigger/outrigger/internal/state"
)

// OpContext bounds one operation by timeout, unless the caller's deadline
// is already as near: then no timer is started.
func OpContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= timeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, timeout)
}

// TTL reads the ttlInSeconds request metadata. ok is false when the item
// never expires: no TTL, or, as in Dapr, a TTL of 0 or less.
func TTL(md map[string]string) (ttl time.Duration, ok bool, err error) {
	ttl, ok, err = state.TTLFromMetadata(md)
	return ttl, ok && ttl > 0, err
}

// ExpiryMetadata is the response metadata of an item that expires at t, in
// Dapr's format.
func ExpiryMetadata(t time.Time) map[string]string {
	return map[string]string{state.MetaTTLExpireTime: t.UTC().Format(time.RFC3339)}
}

// CheckAffected turns "no row matched" into an ETag mismatch. Every
// conditional write changes the row's ETag, so a matched row always counts
// as changed.
func CheckAffected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return state.NewETagMismatch(nil)
	}
	return nil
}

// PrepareOps validates a transaction's operations before anything is
// written, with set for upserts and del for deletes; the results follow the
// operations' order.
func PrepareOps[W any](ops []state.Operation, set func(state.SetRequest) (W, error), del func(state.DeleteRequest) (W, error)) ([]W, error) {
	out := make([]W, len(ops))
	for i, op := range ops {
		var err error
		switch op.Type {
		case state.OpUpsert:
			out[i], err = set(op.Set)
		case state.OpDelete:
			out[i], err = del(op.Delete)
		default:
			err = &state.InvalidRequestError{Msg: fmt.Sprintf("unsupported operation type %q", op.Type)}
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ValidateDelete is a PrepareOps del for stores that need nothing from a
// delete but its validation.
func ValidateDelete[W any](req state.DeleteRequest) (W, error) {
	var zero W
	return zero, state.ValidateOptions(req.Options)
}

// ApplyOps runs a transaction's operations in order, upserts with set (given
// what PrepareOps made of them) and deletes with del, and stops at the first
// failure, naming the step.
func ApplyOps[W any](ops []state.Operation, writes []W, set func(W) error, del func(state.DeleteRequest) error) error {
	for i, op := range ops {
		var err error
		if op.Type == state.OpUpsert {
			err = set(writes[i])
		} else {
			err = del(op.Delete)
		}
		if err != nil {
			return fmt.Errorf("transaction step %d (%s %q): %w", i, op.Type, op.Key(), err)
		}
	}
	return nil
}

// MaxBulkKeys bounds the parameters of one IN (...) query.
const MaxBulkKeys = 500

// BulkGet reads the keys of reqs in chunks of at most MaxBulkKeys, calling
// read once per chunk with the keys as query arguments; read adds the live
// items it finds to found. Results follow the request order; missing keys
// come back with Found=false.
func BulkGet(reqs []state.GetRequest, read func(keys []any, found map[string]state.GetResponse) error) ([]state.BulkItem, error) {
	found := make(map[string]state.GetResponse, len(reqs))
	for start := 0; start < len(reqs); start += MaxBulkKeys {
		chunk := reqs[start:min(start+MaxBulkKeys, len(reqs))]
		keys := make([]any, len(chunk))
		for i, r := range chunk {
			keys[i] = r.Key
		}
		if err := read(keys, found); err != nil {
			return nil, err
		}
	}
	out := make([]state.BulkItem, len(reqs))
	for i, r := range reqs {
		out[i] = state.BulkItem{Key: r.Key, GetResponse: found[r.Key]}
	}
	return out, nil
}

// Placeholders returns n comma-separated '?' parameters, n >= 1.
func Placeholders(n int) string {
	return "?" + strings.Repeat(",?", n-1)
}
