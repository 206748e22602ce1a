package redis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/outrigger/outrigger/internal/state"
)

// writeOp is one operation for writeScript.
type writeOp struct {
	key   string
	del   bool
	etag  string // "" = unconditional
	first bool   // insert only (first-write without ETag)
	data  []byte
	ttl   string // seconds; <= 0 removes any expiry
}

// args appends the operation's five script arguments.
func (o writeOp) args(dst []any) []any {
	kind, first := "set", ""
	if o.del {
		kind = "del"
	}
	if o.first {
		first = "1"
	}
	return append(dst, kind, o.etag, first, o.data, o.ttl)
}

func (s *Store) setOp(req state.SetRequest) (writeOp, error) {
	if err := state.ValidateOptions(req.Options); err != nil {
		return writeOp{}, err
	}
	etag, err := parseETag(req.ETag)
	if err != nil {
		return writeOp{}, err
	}
	ttl, err := s.ttlArg(req.Metadata)
	if err != nil {
		return writeOp{}, err
	}
	first := etag == "" && req.Options.Concurrency == state.FirstWrite
	return writeOp{key: req.Key, etag: etag, first: first, data: req.Value, ttl: ttl}, nil
}

func deleteOp(req state.DeleteRequest) (writeOp, error) {
	if err := state.ValidateOptions(req.Options); err != nil {
		return writeOp{}, err
	}
	etag, err := parseETag(req.ETag)
	if err != nil {
		return writeOp{}, err
	}
	return writeOp{key: req.Key, del: true, etag: etag}, nil
}

// parseETag checks the ETag is a version number, as Dapr's store writes.
func parseETag(p *string) (string, error) {
	if !state.HasETag(p) {
		return "", nil
	}
	if _, err := strconv.ParseInt(*p, 10, 64); err != nil {
		return "", state.NewETagInvalid(err)
	}
	return *p, nil
}

// ttlArg resolves the TTL for a set: the request's ttlInSeconds, else the
// component's ttlInSeconds, else none. Zero or negative means no expiry, and
// so does a write without any TTL: it clears an expiry left by an earlier
// write, like the other stores do. Dapr's Redis store keeps the old expiry
// in that case (HSET preserves a key's TTL); we follow the common contract.
func (s *Store) ttlArg(md map[string]string) (string, error) {
	v := md[state.MetaTTLInSeconds]
	if v == "" {
		if s.cfg.defaultTTL == nil {
			return "-1", nil
		}
		return ttlString(int64(*s.cfg.defaultTTL)), nil
	}
	// Validate through the shared helper so the error matches other stores,
	// but read the number here: the helper's Duration can overflow.
	if _, _, err := state.TTLFromMetadata(md); err != nil {
		return "", err
	}
	secs, _ := strconv.ParseInt(v, 10, 64)
	if secs > math.MaxInt32 {
		return "", &state.InvalidRequestError{Msg: fmt.Sprintf("incorrect value for metadata '%s': %d is too large", state.MetaTTLInSeconds, secs)}
	}
	return ttlString(secs), nil
}

func ttlString(secs int64) string {
	if secs <= 0 {
		return "-1"
	}
	return strconv.FormatInt(secs, 10)
}

// encode turns operations into the script's KEYS and ARGV.
func encode(ops []writeOp) ([]string, []any) {
	keys := make([]string, len(ops))
	args := make([]any, 0, 5*len(ops))
	for i, o := range ops {
		keys[i] = o.key
		args = o.args(args)
	}
	return keys, args
}

// write runs the operations as one atomic script.
func (s *Store) write(ctx context.Context, ops []writeOp) error {
	keys, args := encode(ops)
	return writeError(runScript(ctx, s.client, writeScript, keys, args...).Err(), ops)
}

// writeError maps the script's "ETAGMISMATCH <index>" error to an ETag
// mismatch naming the key.
func writeError(err error, ops []writeOp) error {
	if err == nil {
		return nil
	}
	if rest, ok := strings.CutPrefix(err.Error(), "ETAGMISMATCH "); ok {
		i, convErr := strconv.Atoi(strings.TrimSpace(rest))
		if convErr == nil && i >= 1 && i <= len(ops) {
			return state.NewETagMismatch(conflict(ops[i-1]))
		}
	}
	return fmt.Errorf("redis store: %w", err)
}

func conflict(o writeOp) error {
	if o.etag != "" {
		return fmt.Errorf("key %s: etag %s does not match the stored version", o.key, o.etag)
	}
	return fmt.Errorf("key %s: key already exists (first-write)", o.key)
}

// Set writes one item.
func (s *Store) Set(ctx context.Context, req state.SetRequest) error {
	op, err := s.setOp(req)
	if err != nil {
		return err
	}
	if err := s.write(ctx, []writeOp{op}); err != nil {
		return err
	}
	return s.waitReplicas(ctx, req.Options)
}

// Delete removes one item.
func (s *Store) Delete(ctx context.Context, req state.DeleteRequest) error {
	op, err := deleteOp(req)
	if err != nil {
		return err
	}
	if err := s.write(ctx, []writeOp{op}); err != nil {
		return err
	}
	return s.waitReplicas(ctx, req.Options)
}

// Multi applies the operations all-or-nothing in one script.
func (s *Store) Multi(ctx context.Context, req state.TransactionRequest) error {
	ops := make([]writeOp, 0, len(req.Operations))
	for _, o := range req.Operations {
		var op writeOp
		var err error
		switch o.Type {
		case state.OpUpsert:
			op, err = s.setOp(o.Set)
		case state.OpDelete:
			op, err = deleteOp(o.Delete)
		default:
			err = &state.InvalidRequestError{Msg: fmt.Sprintf("unsupported operation type %q", o.Type)}
		}
		if err != nil {
			return err
		}
		ops = append(ops, op)
	}
	if len(ops) == 0 {
		return nil
	}
	return s.write(ctx, ops)
}

// BulkSet writes many items in one round trip; each write is conditional on
// its own and they are not atomic together.
func (s *Store) BulkSet(ctx context.Context, reqs []state.SetRequest) error {
	ops := make([]writeOp, len(reqs))
	strong := false
	for i, r := range reqs {
		op, err := s.setOp(r)
		if err != nil {
			return err
		}
		ops[i] = op
		strong = strong || r.Options.Consistency == state.Strong
	}
	return s.bulkWrite(ctx, ops, strong)
}

// BulkDelete removes many items in one round trip, not atomically.
func (s *Store) BulkDelete(ctx context.Context, reqs []state.DeleteRequest) error {
	ops := make([]writeOp, len(reqs))
	strong := false
	for i, r := range reqs {
		op, err := deleteOp(r)
		if err != nil {
			return err
		}
		ops[i] = op
		strong = strong || r.Options.Consistency == state.Strong
	}
	return s.bulkWrite(ctx, ops, strong)
}

// bulkWrite pipelines one script call per operation and joins the errors.
func (s *Store) bulkWrite(ctx context.Context, ops []writeOp, strong bool) error {
	if len(ops) == 0 {
		return nil
	}
	calls := make([]scriptCall, len(ops))
	for i, o := range ops {
		calls[i] = scriptCall{keys: []string{o.key}, args: o.args(nil)}
	}
	runPipelined(ctx, s.client, writeScript, calls)
	var errs []error
	for i, c := range calls {
		if err := writeError(c.cmd.Err(), ops[i:i+1]); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if strong {
		return s.waitReplicas(ctx, state.Options{Consistency: state.Strong})
	}
	return nil
}
