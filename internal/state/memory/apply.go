package memory

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/outrigger/outrigger/internal/state"
)

// write is an operation whose options and TTL have been validated.
type write struct {
	op  state.Operation
	ttl time.Duration // 0: no expiry
}

// prepare validates every operation before the lock is taken, so a bad
// request fails without touching any state.
func prepare(ops []state.Operation) ([]write, error) {
	out := make([]write, len(ops))
	for i, op := range ops {
		w, err := prepareOne(op)
		if err != nil {
			return nil, opError(ops, i, err)
		}
		out[i] = w
	}
	return out, nil
}

func prepareOne(op state.Operation) (write, error) {
	switch op.Type {
	case state.OpUpsert:
		if err := state.ValidateOptions(op.Set.Options); err != nil {
			return write{}, err
		}
		// Like Dapr's in-memory store, only a positive TTL expires; 0 and
		// negative values mean "keep forever".
		ttl, _, err := state.TTLFromMetadata(op.Set.Metadata)
		if err != nil {
			return write{}, err
		}
		return write{op: op, ttl: ttl}, nil
	case state.OpDelete:
		if err := state.ValidateOptions(op.Delete.Options); err != nil {
			return write{}, err
		}
		return write{op: op}, nil
	default:
		return write{}, &state.InvalidRequestError{Msg: fmt.Sprintf("operation type %s not supported", op.Type)}
	}
}

// opError adds the operation's position when it is part of a transaction.
func opError(ops []state.Operation, i int, err error) error {
	if len(ops) == 1 {
		return err
	}
	return fmt.Errorf("operation %d (%s %q): %w", i, ops[i].Type, ops[i].Key(), err)
}

// apply checks and writes ops atomically.
func (s *Store) apply(ops []state.Operation) error {
	writes, err := prepare(ops)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx := txn{s: s, now: s.now(), version: s.version, staged: map[string]*item{}}
	for i, w := range writes {
		if err := tx.step(w); err != nil {
			return opError(ops, i, err)
		}
	}
	tx.commit()
	return nil
}

// txn stages writes over the current state; nothing is visible until
// commit. Callers hold s.mu for its whole life.
type txn struct {
	s       *Store
	now     time.Time
	version uint64
	staged  map[string]*item // nil value: deleted
}

func (tx *txn) lookup(key string) *item {
	if it, ok := tx.staged[key]; ok {
		return it
	}
	return tx.s.live(key, tx.now)
}

func (tx *txn) step(w write) error {
	key := w.op.Key()
	cur := tx.lookup(key)
	if w.op.Type == state.OpDelete {
		if err := checkETag(w.op.Delete.ETag, cur, false); err != nil {
			return err
		}
		tx.staged[key] = nil
		return nil
	}
	r := w.op.Set
	if err := checkETag(r.ETag, cur, r.Options.Concurrency == state.FirstWrite); err != nil {
		return err
	}
	tx.version++
	it := &item{data: bytes.Clone(r.Value), binary: r.Binary, version: tx.version}
	if w.ttl > 0 {
		it.expires = tx.now.Add(w.ttl)
	}
	tx.staged[key] = it
	return nil
}

func (tx *txn) commit() {
	for k, it := range tx.staged {
		if it == nil {
			delete(tx.s.items, k)
		} else {
			tx.s.items[k] = it
		}
	}
	tx.s.version = tx.version
}

// checkETag applies the concurrency rules of package state to a write of
// the key whose current item is cur (nil when missing).
func checkETag(etag *string, cur *item, firstWrite bool) error {
	if state.HasETag(etag) {
		v, err := strconv.ParseUint(*etag, 10, 64)
		if err != nil {
			return state.NewETagInvalid(fmt.Errorf("etag %q is not a version number", *etag))
		}
		if cur == nil || cur.version != v {
			return state.NewETagMismatch(nil)
		}
		return nil
	}
	if firstWrite && cur != nil {
		return state.NewETagMismatch(errors.New("first-write: key already exists"))
	}
	return nil
}
