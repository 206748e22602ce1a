package delivery

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// bulkEventType is the type of a bulk delivery.
const bulkEventType = "com.dapr.event.sent.bulk"

// bulkItem is one message waiting in a batch; its broker handler blocks
// until done receives the message's outcome.
type bulkItem struct {
	d    *delivery
	id   string // entryId
	done chan bulkResult
}

type bulkResult struct {
	out outcome
	err error
}

// batcher collects the messages of one bulk subscription into batches of
// up to maxCount, waiting at most maxAwait after the first one, and
// delivers each batch in one call per route.
type batcher struct {
	e   *Engine
	sub *subscription
	in  chan *bulkItem
}

func newBatcher(e *Engine, s *subscription) *batcher {
	return &batcher{e: e, sub: s, in: make(chan *bulkItem)}
}

// submit is the deliverer of bulk subscriptions.
func (b *batcher) submit(ctx context.Context, d *delivery) (outcome, error) {
	it := &bulkItem{d: d, id: uuid.NewString(), done: make(chan bulkResult, 1)}
	select {
	case b.in <- it:
	case <-ctx.Done():
		return outcomeRetry, fmt.Errorf("waiting for a bulk batch: %w", ctx.Err())
	}
	select {
	case r := <-it.done:
		return r.out, r.err
	case <-ctx.Done():
		return outcomeRetry, fmt.Errorf("waiting for the bulk delivery: %w", ctx.Err())
	}
}

// run batches until ctx is done.
func (b *batcher) run(ctx context.Context) {
	for {
		var first *bulkItem
		select {
		case first = <-b.in:
		case <-ctx.Done():
			return
		}
		b.flush(ctx, b.fill(ctx, []*bulkItem{first}))
	}
}

// fill adds items until the batch is full or maxAwait has passed.
func (b *batcher) fill(ctx context.Context, batch []*bulkItem) []*bulkItem {
	t := time.NewTimer(b.sub.bulk.maxAwait)
	defer t.Stop()
	for len(batch) < b.sub.bulk.maxCount {
		select {
		case it := <-b.in:
			batch = append(batch, it)
		case <-t.C:
			return batch
		case <-ctx.Done():
			return batch
		}
	}
	return batch
}

// flush delivers a batch, one request per route path, and answers every
// item's handler.
func (b *batcher) flush(ctx context.Context, batch []*bulkItem) {
	var paths []string
	byPath := make(map[string][]*bulkItem)
	for _, it := range batch {
		p := it.d.path
		if _, ok := byPath[p]; !ok {
			paths = append(paths, p)
		}
		byPath[p] = append(byPath[p], it)
	}
	for _, p := range paths {
		items := byPath[p]
		var statuses map[string]outcome
		var err error
		if b.e.grpc != nil {
			statuses, err = b.e.grpc.deliverBulk(ctx, b.sub, p, items)
		} else {
			statuses, err = b.e.deliverBulkHTTP(ctx, b.sub, p, items)
		}
		resolve(items, statuses, err)
	}
}

// resolve answers each item from the per-entry statuses. With err set
// every entry without a status gets it; entries missing from the answer
// are retried.
func resolve(items []*bulkItem, statuses map[string]outcome, err error) {
	for _, it := range items {
		out, ok := statuses[it.id]
		switch {
		case ok && out == outcomeSuccess:
			it.done <- bulkResult{out: out}
		case ok && out == outcomeDrop:
			it.done <- bulkResult{out: out, err: fmt.Errorf("subscriber dropped bulk entry %s", it.id)}
		case ok:
			it.done <- bulkResult{out: outcomeRetry, err: fmt.Errorf("subscriber asked to retry bulk entry %s", it.id)}
		case err != nil:
			it.done <- bulkResult{out: outcomeRetry, err: err}
		default:
			it.done <- bulkResult{out: outcomeRetry, err: fmt.Errorf("no status for bulk entry %s", it.id)}
		}
	}
}

// allStatuses gives every item the same outcome (a 404 drops them all).
func allStatuses(items []*bulkItem, out outcome) map[string]outcome {
	m := make(map[string]outcome, len(items))
	for _, it := range items {
		m[it.id] = out
	}
	return m
}
