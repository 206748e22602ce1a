package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// heartbeatInterval is how often an instance records that it is alive.
const heartbeatInterval = time.Second

// heartbeatLoop keeps this instance's heartbeat fresh until ctx ends.
func (b *Broker) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(heartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := b.beat(ctx); err != nil && ctx.Err() == nil {
				b.log.Warn("recording the heartbeat failed", "err", err)
			}
		}
	}
}

// beat records this instance as alive and its subscribed groups as active
// (the cleanup forgets inactive groups, and joinGroup recreates one it
// forgot while this instance was stalled).
func (b *Broker) beat(ctx context.Context) error {
	ctx, cancel := b.dbContext(ctx)
	defer cancel()
	type topicGroup struct{ topic, group string }
	active := map[topicGroup]bool{}
	b.mu.RLock()
	for s := range b.subs {
		active[topicGroup{s.topic, s.group}] = true
	}
	b.mu.RUnlock()

	tx, err := b.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("begin heartbeat: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	now := time.Now().UnixMilli()
	if _, err := tx.ExecContext(ctx, b.sql.heartbeat, b.id, now); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	for tg := range active {
		if _, err := tx.ExecContext(ctx, b.sql.joinGroup,
			sql.Named("topic", tg.topic), sql.Named("grp", tg.group), sql.Named("now", now)); err != nil {
			return fmt.Errorf("mark group active: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit heartbeat: %w", err)
	}
	return nil
}

// unregister removes this instance and hands its remaining leases back at
// once, so a successor does not wait for them to expire.
func (b *Broker) unregister() error {
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.timeout)
	defer cancel()
	tx, err := b.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("pubsub.sqlite: unregister: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, b.sql.unregister, b.id); err != nil {
		return fmt.Errorf("pubsub.sqlite: unregister: %w", err)
	}
	if _, err := tx.ExecContext(ctx, b.sql.releaseOwned, time.Now().UnixMilli(), b.id); err != nil {
		return fmt.Errorf("pubsub.sqlite: release leases: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("pubsub.sqlite: unregister: %w", err)
	}
	return nil
}

// watchLoop notices commits by other connections — other processes
// sharing the file — through PRAGMA data_version, which changes when
// someone else commits, and wakes the subscriptions to look for work.
// It costs one trivial query per pollInterval.
func (b *Broker) watchLoop(ctx context.Context) {
	conn, err := b.rdb.Conn(ctx)
	if err != nil {
		if ctx.Err() == nil {
			b.log.Warn("cannot watch for other processes' messages; relying on the fallback poll", "err", err)
		}
		return
	}
	defer conn.Close()
	t := time.NewTicker(b.cfg.pollInterval)
	defer t.Stop()
	// The baseline is taken at once: a commit made by another process
	// before the first tick must still wake the subscriptions.
	last, failing := int64(-1), false
	if v, err := b.dataVersion(ctx, conn); err == nil {
		last = v
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v, err := b.dataVersion(ctx, conn)
		if err != nil {
			if ctx.Err() == nil && !failing {
				b.log.Warn("reading data_version failed", "err", err)
			}
			failing = true
			continue
		}
		failing = false
		if v != last {
			if last >= 0 {
				b.pollAll()
			}
			last = v
		}
	}
}

// dataVersion reads PRAGMA data_version on conn: it changes whenever
// another connection commits.
func (b *Broker) dataVersion(ctx context.Context, conn *sql.Conn) (int64, error) {
	qctx, cancel := b.dbContext(ctx)
	defer cancel()
	var v int64
	err := conn.QueryRowContext(qctx, "PRAGMA data_version").Scan(&v)
	return v, err
}
