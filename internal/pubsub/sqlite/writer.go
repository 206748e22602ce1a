package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// maxBatchOps bounds one group-commit transaction.
const maxBatchOps = 1024

// Batching (see lingerFor).
const (
	ackLinger     = 5 * time.Millisecond
	ackBatch      = 128
	publishLinger = 500 * time.Microsecond
)

type opKind int

const (
	opPublish opKind = iota // insert rows; the caller waits on done
	opAck                   // delete a delivery
	opNack                  // hand a delivery back for redelivery at until
)

// op is one unit of work for the writer.
type op struct {
	kind  opKind
	rows  []msgRow    // opPublish
	key   deliveryKey // opAck, opNack
	until int64       // opNack: redeliver at (Unix ms)
	done  chan error  // opPublish: buffered, receives the commit result
}

// msgRow is one message to insert.
type msgRow struct {
	topic       string
	data        []byte
	contentType string
	metadata    sql.NullString // JSON object
	created     int64
	expires     sql.NullInt64
}

// deliveryKey names one delivery; owner is the instance holding it.
type deliveryKey struct {
	topic, grp, owner string
	msgID             int64
}

// writer is the single goroutine that commits publishes and
// acknowledgements. Whatever is queued while one transaction commits goes
// into the next, so concurrent publishers share commits (group commit).
type writer struct {
	begin   func(context.Context) (*sql.Tx, error)
	sql     *statements
	log     *slog.Logger
	timeout time.Duration
	notify  func(topics map[string]bool) // called after publishes commit
	ops     chan *op
	done    chan struct{}
	// lastPublishes is the number of publishes in the last batch; only
	// run uses it.
	lastPublishes int
}

func newWriter(b *Broker) *writer {
	w := &writer{
		begin: b.beginWrite, sql: &b.sql, log: b.log, timeout: b.cfg.timeout, notify: b.notify,
		ops: make(chan *op, maxBatchOps), done: make(chan struct{}),
	}
	go w.run()
	return w
}

// close commits what is queued and stops the writer. Nothing may be
// submitted afterwards.
func (w *writer) close() {
	close(w.ops)
	<-w.done
}

func (w *writer) run() {
	defer close(w.done)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for first := range w.ops {
		batch := w.collect(first, linger)
		w.lastPublishes = countPublishes(batch)
		w.commit(batch)
	}
}

// collect gathers the ops queued behind first into one batch, and may
// wait a little for more (lingerFor): every commit takes the write lock
// that all sidecars sharing the file need, and costs about as much for
// one op as for dozens.
func (w *writer) collect(first *op, linger *time.Timer) []*op {
	start := time.Now()
	batch := []*op{first}
	armed := time.Duration(0) // the linger the timer is set for, 0 when unset
	defer func() {
		if armed > 0 {
			linger.Stop()
		}
	}()
	for len(batch) < maxBatchOps {
		select {
		case o, ok := <-w.ops:
			if !ok {
				return batch
			}
			batch = append(batch, o)
			continue
		default:
		}
		wait := w.lingerFor(batch)
		if wait <= 0 || time.Since(start) >= wait {
			return batch
		}
		if wait != armed {
			if armed > 0 {
				linger.Stop()
			}
			linger.Reset(wait - time.Since(start))
			armed = wait
		}
		select {
		case o, ok := <-w.ops:
			if !ok {
				return batch
			}
			batch = append(batch, o)
		case <-linger.C:
			armed = 0
			return batch
		}
	}
	return batch
}

// lingerFor is how long after it started a batch may wait for more ops.
// Acknowledgements: nobody waits for them, so up to ackLinger, until
// ackBatch of them. Publishes: their callers wait, so only while several
// publishers are busy (the last batch had more than one) and fewer of
// them than last time are in: up to publishLinger, which is short next to
// a publish's round trip through a sidecar.
func (w *writer) lingerFor(batch []*op) time.Duration {
	n := countPublishes(batch)
	switch {
	case n == 0 && len(batch) < ackBatch:
		return ackLinger
	case n > 0 && w.lastPublishes > 1 && n < w.lastPublishes:
		return publishLinger
	}
	return 0
}

func countPublishes(batch []*op) int {
	n := 0
	for _, o := range batch {
		if o.kind == opPublish {
			n++
		}
	}
	return n
}

// commit runs a batch in one transaction. If it fails, each op is retried
// alone so one bad op does not fail the others.
func (w *writer) commit(batch []*op) {
	err := w.exec(batch)
	if err == nil || len(batch) == 1 {
		w.finish(batch, []error{err})
		return
	}
	errs := make([]error, len(batch))
	for i, o := range batch {
		errs[i] = w.exec([]*op{o})
	}
	w.finish(batch, errs)
}

// finish reports the results (one error for all, or one per op) to the
// publishers, wakes local subscribers and logs lost acknowledgements.
func (w *writer) finish(batch []*op, errs []error) {
	topics := map[string]bool{}
	lost, firstErr := 0, error(nil)
	for i, o := range batch {
		err := errs[min(i, len(errs)-1)]
		switch {
		case o.kind == opPublish:
			o.done <- err
			if err == nil {
				for _, r := range o.rows {
					topics[r.topic] = true
				}
			}
		case err != nil:
			lost++
			firstErr = cmp.Or(firstErr, err)
		}
	}
	if lost > 0 {
		// The leases expire and the messages are delivered again.
		w.log.Warn("recording delivery outcomes failed", "count", lost, "err", firstErr)
	}
	if len(topics) > 0 {
		w.notify(topics)
	}
}

// exec runs ops in one transaction: all rows in multi-row INSERTs, the
// acknowledgements of a group in one DELETE each.
func (w *writer) exec(batch []*op) error {
	ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
	defer cancel()
	tx, err := w.begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var rows []msgRow
	type topicGroup struct{ topic, grp string }
	acks := map[topicGroup][]int64{}
	for _, o := range batch {
		switch o.kind {
		case opPublish:
			rows = append(rows, o.rows...)
		case opAck:
			tg := topicGroup{o.key.topic, o.key.grp}
			acks[tg] = append(acks[tg], o.key.msgID)
		case opNack:
			if _, err := tx.ExecContext(ctx, w.sql.nack, o.until, o.key.topic, o.key.grp, o.key.msgID, o.key.owner); err != nil {
				return fmt.Errorf("hand back a delivery: %w", err)
			}
		}
	}
	for chunk := range slices.Chunk(rows, rowsPerInsert) {
		if err := w.insert(ctx, tx, chunk); err != nil {
			return err
		}
	}
	for tg, ids := range acks {
		for chunk := range slices.Chunk(ids, idsPerDelete) {
			args := []any{tg.topic, tg.grp}
			for _, id := range chunk {
				args = append(args, id)
			}
			if _, err := tx.ExecContext(ctx, w.sql.ackPrefix+placeholders(len(chunk)), args...); err != nil {
				return fmt.Errorf("acknowledge deliveries: %w", err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Statement sizes. The driver matches each parameter to its argument by
// a linear search, so binding costs the square of the parameter count:
// a few dozen rows per statement cost less than one huge statement.
const (
	rowsPerInsert = 32
	idsPerDelete  = 128
)

// insert adds rows with one statement.
func (w *writer) insert(ctx context.Context, tx *sql.Tx, rows []msgRow) error {
	var q strings.Builder
	q.WriteString(w.sql.insertPrefix)
	args := make([]any, 0, 6*len(rows))
	for i, r := range rows {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?)")
		args = append(args, r.topic, r.data, r.contentType, r.metadata, r.created, r.expires)
	}
	if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
		return fmt.Errorf("insert messages: %w", err)
	}
	return nil
}
