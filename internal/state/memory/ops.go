package memory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/outrigger/outrigger/internal/state"
)

// Get returns a copy of the stored value, with ttlExpireTime metadata for
// keys that expire.
func (s *Store) Get(_ context.Context, req state.GetRequest) (state.GetResponse, error) {
	s.mu.RLock()
	it := s.live(req.Key, s.now())
	s.mu.RUnlock()
	if it == nil {
		return state.GetResponse{}, nil
	}
	return response(it), nil
}

func response(it *item) state.GetResponse {
	res := state.GetResponse{
		Found: true,
		Data:  bytes.Clone(it.data),
		ETag:  strconv.FormatUint(it.version, 10),
	}
	if !it.expires.IsZero() {
		res.Metadata = map[string]string{
			state.MetaTTLExpireTime: it.expires.UTC().Format(time.RFC3339),
		}
	}
	return res
}

// Set writes one key under the concurrency rules in package state.
func (s *Store) Set(_ context.Context, req state.SetRequest) error {
	return s.apply([]state.Operation{{Type: state.OpUpsert, Set: req}})
}

// Delete removes one key under the concurrency rules in package state.
func (s *Store) Delete(_ context.Context, req state.DeleteRequest) error {
	return s.apply([]state.Operation{{Type: state.OpDelete, Delete: req}})
}

// Multi applies the operations atomically: all are checked against the
// state as it evolves through the transaction, and only then written.
func (s *Store) Multi(_ context.Context, req state.TransactionRequest) error {
	return s.apply(req.Operations)
}

// BulkGet reads each key; missing keys come back with Found=false.
func (s *Store) BulkGet(_ context.Context, reqs []state.GetRequest) ([]state.BulkItem, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.now()
	out := make([]state.BulkItem, len(reqs))
	for i, r := range reqs {
		out[i].Key = r.Key
		if it := s.live(r.Key, now); it != nil {
			out[i].GetResponse = response(it)
		}
	}
	return out, nil
}

// BulkSet writes each key on its own (not atomically), like a loop of Set.
func (s *Store) BulkSet(ctx context.Context, reqs []state.SetRequest) error {
	var errs []error
	for _, r := range reqs {
		if err := s.Set(ctx, r); err != nil {
			errs = append(errs, fmt.Errorf("key %q: %w", r.Key, err))
		}
	}
	return errors.Join(errs...)
}

// BulkDelete deletes each key on its own (not atomically).
func (s *Store) BulkDelete(ctx context.Context, reqs []state.DeleteRequest) error {
	var errs []error
	for _, r := range reqs {
		if err := s.Delete(ctx, r); err != nil {
			errs = append(errs, fmt.Errorf("key %q: %w", r.Key, err))
		}
	}
	return errors.Join(errs...)
}
