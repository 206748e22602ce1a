package schedule

import (
	"container/heap"
	"math"
	"time"
)

// Item is an entry of a Queue. Set Due before pushing; change it only while
// the item is out of the queue (or through Queue.Update).
type Item[T any] struct {
	Due   time.Time
	Value T
	index int   // position in the heap, -1 when not queued
	at    int64 // Due in Unix nanoseconds, set on Push: cheaper to compare
}

// NewItem returns an item that is not queued.
func NewItem[T any](v T) *Item[T] { return &Item[T]{Value: v, index: -1} }

// Queued reports whether the item is in a queue.
func (it *Item[T]) Queued() bool { return it.index >= 0 }

// Queue is a min-heap of items by due time. It is not safe for concurrent
// use; its owner locks around it.
type Queue[T any] struct{ h itemHeap[T] }

// Len returns the number of queued items.
func (q *Queue[T]) Len() int { return len(q.h) }

// Push queues it, or moves it when it is already queued.
func (q *Queue[T]) Push(it *Item[T]) {
	it.at = nanos(it.Due)
	if it.Queued() {
		heap.Fix(&q.h, it.index)
		return
	}
	heap.Push(&q.h, it)
}

// Remove takes it out of the queue if it is there.
func (q *Queue[T]) Remove(it *Item[T]) {
	if it.Queued() {
		heap.Remove(&q.h, it.index)
	}
}

// Peek returns the earliest item, nil when empty.
func (q *Queue[T]) Peek() *Item[T] {
	if len(q.h) == 0 {
		return nil
	}
	return q.h[0]
}

// PopDue removes and returns the earliest item if it is due at now.
func (q *Queue[T]) PopDue(now time.Time) *Item[T] {
	if len(q.h) == 0 || q.h[0].Due.After(now) {
		return nil
	}
	return heap.Pop(&q.h).(*Item[T])
}

// The times UnixNano can represent; due times outside sort at the ends.
var (
	minNanos = time.Unix(0, math.MinInt64)
	maxNanos = time.Unix(0, math.MaxInt64)
)

// nanos is t in Unix nanoseconds, clamped to the int64 range.
func nanos(t time.Time) int64 {
	switch {
	case t.Before(minNanos):
		return math.MinInt64
	case t.After(maxNanos):
		return math.MaxInt64
	}
	return t.UnixNano()
}

type itemHeap[T any] []*Item[T]

func (h itemHeap[T]) Len() int           { return len(h) }
func (h itemHeap[T]) Less(i, j int) bool { return h[i].at < h[j].at }
func (h itemHeap[T]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *itemHeap[T]) Push(x any) {
	it := x.(*Item[T])
	it.index = len(*h)
	*h = append(*h, it)
}

func (h *itemHeap[T]) Pop() any {
	old := *h
	n := len(old)
	it := old[n-1]
	old[n-1] = nil
	it.index = -1
	*h = old[:n-1]
	return it
}
