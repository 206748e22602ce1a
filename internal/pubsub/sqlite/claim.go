package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/sqliteread"
)

// staleAfter is how long an instance may miss heartbeats before its leases
// are taken over: several heartbeat intervals, so a busy but live process
// keeps its messages.
const staleAfter = 5 * heartbeatInterval

// work says what a subscription may find to claim.
type work struct {
	fresh bool // messages past the group's cursor
	due   bool // deliveries to hand out again
}

func (w work) any() bool { return w.fresh || w.due }

// hasWork is a read-only check for anything to claim, so an idle
// subscription never takes the write lock.
func (s *subscription) hasWork(ctx context.Context) (work, error) {
	ctx, cancel := s.b.dbContext(ctx)
	defer cancel()
	now := time.Now()
	var w work
	err := sqliteread.Row(ctx, s.b.rdb, s.b.sql.hasWork, []any{
		sql.Named("topic", s.topic), sql.Named("grp", s.group), sql.Named("me", s.b.id),
		sql.Named("now", now.UnixMilli()), sql.Named("stale", now.Add(-staleAfter).UnixMilli()),
	}, &w.fresh, &w.due)
	if err != nil {
		return work{}, fmt.Errorf("check for messages: %w", err)
	}
	return w, nil
}

// claim leases up to limit messages to this instance in one write
// transaction: deliveries due again first (when w.due), then new messages
// past the cursor.
func (s *subscription) claim(ctx context.Context, limit int, w work) ([]*item, error) {
	ctx, cancel := s.b.dbContext(ctx)
	defer cancel()
	tx, err := s.b.beginWrite(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin claim: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	now := time.Now()
	c := claimTx{s: s, tx: tx, now: now.UnixMilli(), lease: now.Add(s.b.cfg.visibilityTimeout).UnixMilli()}
	var old []*item
	if w.due {
		if old, err = c.reclaim(ctx, now.Add(-staleAfter).UnixMilli(), limit); err != nil {
			return nil, err
		}
	}
	fresh, err := c.leaseNew(ctx, limit-len(old))
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit claim: %w", err)
	}
	return append(old, fresh...), nil
}

// claimTx is one claim transaction.
type claimTx struct {
	s          *subscription
	tx         *sql.Tx
	now, lease int64
}

// reclaim leases deliveries that are due again and loads their messages.
func (c *claimTx) reclaim(ctx context.Context, stale int64, limit int) ([]*item, error) {
	s := c.s
	rows, err := c.tx.QueryContext(ctx, s.b.sql.reclaim,
		sql.Named("topic", s.topic), sql.Named("grp", s.group), sql.Named("me", s.b.id),
		sql.Named("now", c.now), sql.Named("lease", c.lease), sql.Named("stale", stale), sql.Named("limit", limit))
	if err != nil {
		return nil, fmt.Errorf("reclaim deliveries: %w", err)
	}
	attempts := map[int64]int{}
	for rows.Next() {
		var id int64
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reclaim deliveries: %w", err)
		}
		attempts[id] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reclaim deliveries: %w", err)
	}
	if len(attempts) == 0 {
		return nil, nil
	}
	items, err := c.load(ctx, attempts)
	if err != nil {
		return nil, err
	}
	// Deliveries whose message expired or was removed are done.
	for id := range attempts {
		if _, err := c.tx.ExecContext(ctx, s.b.sql.dropDelivery, s.topic, s.group, id); err != nil {
			return nil, fmt.Errorf("drop delivery of a removed message: %w", err)
		}
	}
	return items, nil
}

// load reads the messages of reclaimed deliveries in id order, removing
// each found id from attempts.
func (c *claimTx) load(ctx context.Context, attempts map[int64]int) ([]*item, error) {
	ids := make([]any, 0, len(attempts))
	for id := range attempts {
		ids = append(ids, id)
	}
	rows, err := c.tx.QueryContext(ctx, c.s.b.sql.readByID+placeholders(len(ids)), ids...)
	if err != nil {
		return nil, fmt.Errorf("load messages: %w", err)
	}
	items, _, err := c.scan(rows)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		it.attempts = attempts[it.id]
		delete(attempts, it.id)
	}
	slices.SortFunc(items, func(a, b *item) int { return cmp.Compare(a.id, b.id) })
	return items, nil
}

// leaseNew leases up to limit messages past the group's cursor and moves
// the cursor past them.
func (c *claimTx) leaseNew(ctx context.Context, limit int) ([]*item, error) {
	if limit <= 0 {
		return nil, nil
	}
	s := c.s
	topic, grp := sql.Named("topic", s.topic), sql.Named("grp", s.group)
	rows, err := c.tx.QueryContext(ctx, s.b.sql.readNew, topic, grp, sql.Named("limit", limit))
	if err != nil {
		return nil, fmt.Errorf("read new messages: %w", err)
	}
	items, to, err := c.scan(rows)
	if err != nil || to == 0 {
		return nil, err
	}
	for _, it := range items {
		it.attempts = 1
	}
	if _, err := c.tx.ExecContext(ctx, s.b.sql.leaseNew, topic, grp, sql.Named("me", s.b.id),
		sql.Named("lease", c.lease), sql.Named("to", to), sql.Named("now", c.now)); err != nil {
		return nil, fmt.Errorf("lease new messages: %w", err)
	}
	if _, err := c.tx.ExecContext(ctx, s.b.sql.advance, sql.Named("to", to), topic, grp); err != nil {
		return nil, fmt.Errorf("advance cursor: %w", err)
	}
	return items, nil
}

// scan reads message rows (id, data, content_type, metadata, expires) into
// items, skipping expired ones, and returns the highest id seen.
func (c *claimTx) scan(rows *sql.Rows) ([]*item, int64, error) {
	defer rows.Close()
	var items []*item
	var maxID int64
	for rows.Next() {
		it := &item{}
		var md sql.NullString
		var expires sql.NullInt64
		if err := rows.Scan(&it.id, &it.msg.Data, &it.msg.ContentType, &md, &expires); err != nil {
			return nil, 0, fmt.Errorf("read message: %w", err)
		}
		maxID = max(maxID, it.id)
		if expires.Valid && expires.Int64 <= c.now {
			continue
		}
		if md.Valid {
			if err := json.Unmarshal([]byte(md.String), &it.msg.Metadata); err != nil {
				// Deliver it anyway: failing the claim would block the group.
				c.s.b.log.Warn("ignoring undecodable message metadata", "id", it.id, "err", err)
			}
		}
		it.msg.Topic = c.s.topic
		if it.msg.Data == nil {
			it.msg.Data = []byte{}
		}
		it.key = it.msg.Metadata[pubsub.MetaPartitionKey]
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("read messages: %w", err)
	}
	return items, maxID, nil
}
