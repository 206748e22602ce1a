package reminders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/outrigger/outrigger/internal/sleep"
	"github.com/outrigger/outrigger/internal/state"
)

// numPartitions is how many partition keys each actor type's reminders are
// spread over. It is part of the stored layout: every sidecar must agree on
// it, so changing it needs a migration.
const numPartitions = 1024

// keyPrefix starts every key this package writes. Reminders belong to the
// actor type, not to one app, so the app ID is not part of the key.
const keyPrefix = "outrigger||reminders||"

// maxWriteAttempts bounds the read-modify-write retries when another writer
// changed a partition between our read and our write.
const maxWriteAttempts = 20

func partitionKey(actorType string, p int) string {
	return keyPrefix + actorType + "||" + strconv.Itoa(p)
}

func versionKey(actorType string) string {
	return keyPrefix + actorType + "||version"
}

// partitionOf places all reminders of one actor in the same partition, so
// an actor's reminders are read and deleted with one key.
func partitionOf(actorID string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(actorID))
	return int(h.Sum32() % numPartitions)
}

// storedPartition is the JSON value of a partition key.
type storedPartition struct {
	Reminders []storedReminder `json:"reminders"`
}

// storedReminder is one reminder as stored: its definition, resolved
// times, and its firing progress.
type storedReminder struct {
	ActorID string `json:"actorID"`
	Name    string `json:"name"`
	// Gen changes every time the reminder is (re)created, so a sidecar can
	// tell an overwritten reminder from the one it was firing.
	Gen     string `json:"gen"`
	DueTime string `json:"dueTime,omitempty"`
	Period  string `json:"period,omitempty"`
	TTL     string `json:"ttl,omitempty"`
	// Data is the registered JSON; DataBytes holds data that is not valid
	// JSON (stored base64 by encoding/json).
	Data      json.RawMessage `json:"data,omitempty"`
	DataBytes []byte          `json:"dataBytes,omitempty"`
	Start     time.Time       `json:"start"`
	Expires   time.Time       `json:"expires,omitzero"`
	// Last is the due time of the last completed firing and Fired the
	// number of completed firings; both zero before the first.
	Last  time.Time `json:"last,omitzero"`
	Fired int       `json:"fired,omitempty"`
}

func (r storedReminder) key() string { return r.ActorID + "||" + r.Name }

func (r storedReminder) data() []byte {
	if r.Data != nil {
		return r.Data
	}
	return r.DataBytes
}

func (r *storedReminder) setData(b []byte) {
	r.Data, r.DataBytes = nil, nil
	switch {
	case len(b) == 0:
	case json.Valid(b):
		r.Data = json.RawMessage(b)
	default:
		r.DataBytes = b
	}
}

func newGen() string { return strconv.FormatUint(rand.Uint64(), 36) }

// partitionRead is a partition as read from the store.
type partitionRead struct {
	found bool
	etag  string
	part  storedPartition
}

func (s *Service) readPartition(ctx context.Context, actorType string, p int) (partitionRead, error) {
	res, err := s.cfg.Store.Get(ctx, state.GetRequest{Key: partitionKey(actorType, p), Options: state.Options{Consistency: state.Strong}})
	if err != nil {
		return partitionRead{}, fmt.Errorf("read reminders partition %d of %s: %w", p, actorType, err)
	}
	return decodePartition(actorType, res)
}

func decodePartition(actorType string, res state.GetResponse) (partitionRead, error) {
	if !res.Found || len(res.Data) == 0 {
		return partitionRead{etag: res.ETag, found: res.Found}, nil
	}
	var part storedPartition
	if err := json.Unmarshal(res.Data, &part); err != nil {
		return partitionRead{}, fmt.Errorf("decode a reminders partition of %s: %w", actorType, err)
	}
	return partitionRead{found: true, etag: res.ETag, part: part}, nil
}

// writePartition replaces a partition read earlier as rd, guarded by its
// ETag (or insert-only when it did not exist), deleting the key when no
// reminders are left. bumpVersion also rewrites the type's version key in
// the same transaction, telling other sidecars the set of reminders
// changed. An ETag conflict comes back as a *state.ETagError.
func (s *Service) writePartition(ctx context.Context, actorType string, p int, rd partitionRead, part storedPartition, bumpVersion bool) error {
	key := partitionKey(actorType, p)
	var op state.Operation
	switch {
	case len(part.Reminders) == 0 && !rd.found:
		if !bumpVersion {
			return nil
		}
	case len(part.Reminders) == 0:
		op = state.Operation{Type: state.OpDelete, Delete: state.DeleteRequest{Key: key, ETag: etagPtr(rd.etag)}}
	default:
		value, err := json.Marshal(part)
		if err != nil {
			return fmt.Errorf("encode reminders partition: %w", err)
		}
		set := state.SetRequest{Key: key, Value: value, ETag: etagPtr(rd.etag)}
		if !rd.found {
			set.ETag = nil
			set.Options.Concurrency = state.FirstWrite
		}
		op = state.Operation{Type: state.OpUpsert, Set: set}
	}
	var ops []state.Operation
	if op.Type != "" {
		ops = append(ops, op)
	}
	if bumpVersion {
		ops = append(ops, state.Operation{Type: state.OpUpsert, Set: state.SetRequest{
			Key: versionKey(actorType), Value: []byte(strconv.Quote(newGen())),
		}})
	}
	return s.apply(ctx, ops)
}

// apply writes ops in one transaction when the store supports them, else
// one by one (the partition first, so a failed ETag check writes nothing).
func (s *Service) apply(ctx context.Context, ops []state.Operation) error {
	if tx, ok := s.cfg.Store.(state.Transactional); ok && len(ops) > 1 {
		return tx.Multi(ctx, state.TransactionRequest{Operations: ops})
	}
	for _, op := range ops {
		var err error
		if op.Type == state.OpDelete {
			err = s.cfg.Store.Delete(ctx, op.Delete)
		} else {
			err = s.cfg.Store.Set(ctx, op.Set)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func etagPtr(etag string) *string {
	if etag == "" {
		return nil
	}
	return &etag
}

// modifyPartition runs a read-modify-write of one partition, retrying when
// another writer got in between. change edits the partition and reports
// whether to write it; its error aborts.
func (s *Service) modifyPartition(ctx context.Context, actorType string, p int, bumpVersion bool,
	change func(part *storedPartition) (bool, error)) (storedPartition, error) {
	for attempt := 0; ; attempt++ {
		rd, err := s.readPartition(ctx, actorType, p)
		if err != nil {
			return storedPartition{}, err
		}
		part := rd.part
		write, err := change(&part)
		if err != nil || !write {
			return part, err
		}
		err = s.writePartition(ctx, actorType, p, rd, part, bumpVersion)
		if err == nil {
			return part, nil
		}
		if _, conflict := state.AsETagError(err); !conflict || attempt+1 >= maxWriteAttempts {
			return storedPartition{}, fmt.Errorf("write reminders partition %d of %s: %w", p, actorType, err)
		}
		if err := sleep.Wait(ctx, time.Duration(rand.IntN(5)+1)*time.Millisecond); err != nil {
			return storedPartition{}, err
		}
	}
}

// readVersion returns the ETag of a type's version key ("" when absent).
func (s *Service) readVersion(ctx context.Context, actorType string) (string, error) {
	res, err := s.cfg.Store.Get(ctx, state.GetRequest{Key: versionKey(actorType)})
	if err != nil {
		return "", fmt.Errorf("read reminders version of %s: %w", actorType, err)
	}
	if !res.Found {
		return "", nil
	}
	if res.ETag == "" {
		return "", errors.New("state store returned no ETag for the reminders version key")
	}
	return res.ETag, nil
}

func findReminder(part *storedPartition, actorID, name string) int {
	for i, r := range part.Reminders {
		if r.ActorID == actorID && r.Name == name {
			return i
		}
	}
	return -1
}
