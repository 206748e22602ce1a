package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/outrigger/outrigger/internal/sqliteread"
)

// cleanupChunk bounds the rows one cleanup statement deletes, so the write
// lock is never held for long.
const cleanupChunk = 1000

// cleanupLoop removes spent rows every cleanupInterval.
func (b *Broker) cleanupLoop(ctx context.Context) {
	t := time.NewTicker(b.cfg.cleanupInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := b.cleanup(ctx, time.Now())
			switch {
			case err != nil && ctx.Err() == nil:
				b.log.Warn("cleanup failed", "err", err)
			case n > 0:
				b.log.Debug("cleanup removed rows", "rows", n)
			}
		}
	}
}

// cleanup removes, as of now: expired messages; consumer groups inactive
// for the retention period; messages every group of their topic has
// acknowledged; messages of topics without any group once older than the
// retention period; deliveries whose message is gone; and long-dead
// instances. Several processes may run it at once: it only deletes.
func (b *Broker) cleanup(ctx context.Context, now time.Time) (int64, error) {
	t := b.tbl
	nowMs, cutoff := now.UnixMilli(), now.Add(-b.cfg.retentionPeriod).UnixMilli()
	var total int64
	steps := []struct {
		what string
		run  func() (int64, error)
	}{
		{"expired messages", func() (int64, error) {
			return b.deleteChunks(ctx, `DELETE FROM `+t.messages+` WHERE id IN (SELECT id FROM `+t.messages+`
				WHERE expires IS NOT NULL AND expires <= ? LIMIT ?)`, nowMs)
		}},
		{"inactive groups", func() (int64, error) { return b.forgetGroups(ctx, cutoff) }},
		{"acknowledged messages", func() (int64, error) { return b.deleteConsumed(ctx) }},
		{"unsubscribed messages", func() (int64, error) { return b.deleteUnsubscribed(ctx, cutoff) }},
		{"orphaned deliveries", func() (int64, error) {
			return b.exec(ctx, `DELETE FROM `+t.deliveries+` WHERE NOT EXISTS (SELECT 1 FROM `+t.messages+` m
				WHERE m.id = `+t.deliveries+`.msg_id)`)
		}},
		{"dead instances", func() (int64, error) {
			return b.exec(ctx, `DELETE FROM `+t.consumers+` WHERE heartbeat < ?`, now.Add(-time.Hour).UnixMilli())
		}},
	}
	for _, s := range steps {
		n, err := s.run()
		total += n
		if err != nil {
			return total, fmt.Errorf("remove %s: %w", s.what, err)
		}
	}
	return total, nil
}

// exec runs one statement and returns the rows it changed.
func (b *Broker) exec(ctx context.Context, query string, args ...any) (int64, error) {
	ctx, cancel := b.dbContext(ctx)
	defer cancel()
	var n int64
	err := b.inWrite(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// deleteChunks runs a DELETE whose last parameter is the chunk size until
// it deletes less than a chunk.
func (b *Broker) deleteChunks(ctx context.Context, query string, args ...any) (int64, error) {
	var total int64
	for {
		n, err := b.exec(ctx, query, append(args, cleanupChunk)...)
		total += n
		if err != nil || n < cleanupChunk || ctx.Err() != nil {
			return total, err
		}
	}
}

// forgetGroups drops groups not seen for the retention period, with their
// unacknowledged deliveries.
func (b *Broker) forgetGroups(ctx context.Context, cutoff int64) (int64, error) {
	t := b.tbl
	n1, err := b.exec(ctx, `DELETE FROM `+t.deliveries+` WHERE (topic, grp) IN
		(SELECT topic, grp FROM `+t.groups+` WHERE last_seen < ?)`, cutoff)
	if err != nil {
		return n1, err
	}
	n2, err := b.exec(ctx, `DELETE FROM `+t.groups+` WHERE last_seen < ?`, cutoff)
	return n1 + n2, err
}

// deleteConsumed deletes, per topic, the messages at or below every
// group's cursor that no group still has to (re)deliver.
func (b *Broker) deleteConsumed(ctx context.Context) (int64, error) {
	t := b.tbl
	qctx, cancel := b.dbContext(ctx)
	defer cancel()
	bounds := map[string]int64{}
	err := sqliteread.Rows(qctx, b.rdb, func(rows *sql.Rows) error {
		var topic string
		var cursor int64
		var pending sql.NullInt64
		if err := rows.Scan(&topic, &cursor, &pending); err != nil {
			return err
		}
		if pending.Valid {
			cursor = min(cursor, pending.Int64-1)
		}
		if cursor > 0 {
			bounds[topic] = cursor
		}
		return nil
	}, `SELECT g.topic, MIN(g.cursor),
		(SELECT MIN(d.msg_id) FROM `+t.deliveries+` d WHERE d.topic = g.topic)
		FROM `+t.groups+` g GROUP BY g.topic`)
	if err != nil {
		return 0, err
	}
	var total int64
	for topic, bound := range bounds {
		n, err := b.deleteChunks(ctx, `DELETE FROM `+t.messages+` WHERE id IN (SELECT id FROM `+t.messages+`
			WHERE topic = ? AND id <= ? ORDER BY id LIMIT ?)`, topic, bound)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// deleteUnsubscribed deletes messages older than cutoff on topics that no
// group consumes. Ids grow with publish time, so the old messages are
// those below the first id published at or after cutoff.
func (b *Broker) deleteUnsubscribed(ctx context.Context, cutoff int64) (int64, error) {
	t := b.tbl
	var boundary int64
	qctx, cancel := b.dbContext(ctx)
	defer cancel()
	err := sqliteread.Row(qctx, b.rdb, `SELECT id FROM `+t.messages+` WHERE created >= ? ORDER BY id LIMIT 1`, []any{cutoff}, &boundary)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		boundary = math.MaxInt64
	case err != nil:
		return 0, err
	}
	return b.deleteChunks(ctx, `DELETE FROM `+t.messages+` WHERE id IN (SELECT m.id FROM `+t.messages+` m
		WHERE m.id < ? AND NOT EXISTS (SELECT 1 FROM `+t.groups+` g WHERE g.topic = m.topic) LIMIT ?)`, boundary)
}
