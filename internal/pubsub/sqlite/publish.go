package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/outrigger/outrigger/internal/pubsub"
)

// Publish stores the message and returns once it is committed.
func (b *Broker) Publish(ctx context.Context, req *pubsub.PublishRequest) error {
	row, err := newRow(req.Topic, req.Data, req.ContentType, req.Metadata, time.Now())
	if err != nil {
		return fmt.Errorf("pubsub.sqlite: publish: %w", err)
	}
	if err := b.submit(ctx, []msgRow{row}); err != nil {
		return fmt.Errorf("pubsub.sqlite: publish to %q: %w", req.Topic, err)
	}
	return nil
}

// BulkPublish stores all valid entries in one transaction. Entries with
// invalid metadata fail alone; if the transaction fails, every entry is
// reported failed along with the error.
func (b *Broker) BulkPublish(ctx context.Context, req *pubsub.BulkPublishRequest) ([]pubsub.BulkPublishFailure, error) {
	now := time.Now()
	var failures []pubsub.BulkPublishFailure
	rows := make([]msgRow, 0, len(req.Entries))
	var ids []string
	for _, e := range req.Entries {
		md := req.Metadata
		if len(e.Metadata) > 0 {
			md = maps.Clone(req.Metadata)
			if md == nil {
				md = map[string]string{}
			}
			maps.Copy(md, e.Metadata)
		}
		row, err := newRow(req.Topic, e.Data, e.ContentType, md, now)
		if err != nil {
			failures = append(failures, pubsub.BulkPublishFailure{EntryID: e.EntryID, Error: err})
			continue
		}
		rows = append(rows, row)
		ids = append(ids, e.EntryID)
	}
	if len(rows) == 0 {
		return failures, nil
	}
	if err := b.submit(ctx, rows); err != nil {
		for _, id := range ids {
			failures = append(failures, pubsub.BulkPublishFailure{EntryID: id, Error: err})
		}
		return failures, fmt.Errorf("pubsub.sqlite: bulk publish to %q: %w", req.Topic, err)
	}
	return failures, nil
}

// submit queues rows for the writer and waits for the commit.
func (b *Broker) submit(ctx context.Context, rows []msgRow) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o := &op{kind: opPublish, rows: rows, done: make(chan error, 1)}
	// The read lock keeps Close from stopping the writer while we queue.
	b.mu.RLock()
	if b.closed || b.w == nil {
		b.mu.RUnlock()
		return errClosed
	}
	select {
	case b.w.ops <- o:
	case <-ctx.Done():
		b.mu.RUnlock()
		return ctx.Err()
	}
	b.mu.RUnlock()
	select {
	case err := <-o.done:
		return err
	case <-ctx.Done():
		// It may still commit: at-least-once publishers retry.
		return ctx.Err()
	}
}

// newRow validates and converts one message. The data is copied: the
// caller may reuse its buffer once Publish returns, even on a timeout.
func newRow(topic string, data []byte, contentType string, md map[string]string, now time.Time) (msgRow, error) {
	if topic == "" {
		return msgRow{}, errors.New("empty topic")
	}
	r := msgRow{topic: topic, data: bytes.Clone(data), contentType: contentType, created: now.UnixMilli()}
	if r.data == nil {
		r.data = []byte{} // the column is NOT NULL
	}
	if v := md[pubsub.MetaTTLInSeconds]; v != "" {
		ttl, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || ttl <= 0 {
			return msgRow{}, fmt.Errorf("invalid %s %q: must be a positive integer", pubsub.MetaTTLInSeconds, v)
		}
		r.expires = sql.NullInt64{Int64: now.Add(time.Duration(ttl) * time.Second).UnixMilli(), Valid: true}
	}
	if len(md) > 0 {
		j, err := json.Marshal(md)
		if err != nil {
			return msgRow{}, fmt.Errorf("encode metadata: %w", err)
		}
		r.metadata = sql.NullString{String: string(j), Valid: true}
	}
	return r, nil
}
