package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// reclaimLoop redelivers messages pending longer than processingTimeout:
// failed ones, and those of a consumer that stopped or crashed. It scans
// once at start, so a restarted sidecar picks up its leftovers right away,
// then every redeliverInterval.
func (s *subscription) reclaimLoop(ctx context.Context) {
	s.reclaim(ctx)
	t := time.NewTicker(s.cfg.redeliverInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.reclaim(ctx)
		}
	}
}

// reclaim scans the group's whole pending list, one page of queueDepth
// entries at a time, and claims the stale entries of each page.
func (s *subscription) reclaim(ctx context.Context) {
	start := "-"
	for ctx.Err() == nil {
		page, err := s.client.XPendingExt(ctx, &goredis.XPendingExtArgs{
			Stream: s.topic,
			Group:  s.cfg.consumerID,
			Start:  start,
			End:    "+",
			Count:  int64(s.cfg.queueDepth),
		}).Result()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, goredis.Nil) {
				s.log.Warn("listing pending messages failed", "error", err)
			}
			return
		}
		if ids := s.stale(page); len(ids) > 0 {
			s.claim(ctx, ids)
		}
		if len(page) < s.cfg.queueDepth {
			return
		}
		if start, err = nextID(page[len(page)-1].ID); err != nil {
			s.log.Warn("paging pending messages failed", "error", err)
			return
		}
	}
}

// stale picks the entries pending longer than processingTimeout that this
// subscription is not already working on.
func (s *subscription) stale(page []goredis.XPendingExt) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, p := range page {
		if p.Idle >= s.cfg.processingTimeout && !s.inFlight[p.ID] {
			ids = append(ids, p.ID)
		}
	}
	return ids
}

// claim takes the entries over and queues them. XCLAIM's minimum idle time
// makes it safe against other consumers scanning at the same moment: an
// entry one of them just claimed is no longer idle, and is skipped.
func (s *subscription) claim(ctx context.Context, ids []string) {
	msgs, err := s.xclaim(ctx, ids)
	if errors.Is(err, goredis.Nil) {
		// Before Redis 7, XCLAIM answers a nil entry for a pending message
		// whose entry was trimmed from the stream, which fails the whole
		// reply: claim one by one and drop the missing ones.
		s.claimEach(ctx, ids)
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("claiming pending messages failed", "error", err)
		}
		return
	}
	s.enqueue(ctx, msgs)
}

func (s *subscription) claimEach(ctx context.Context, ids []string) {
	for _, id := range ids {
		msgs, err := s.xclaim(ctx, []string{id})
		switch {
		case errors.Is(err, goredis.Nil):
			// The entry is gone: nothing to deliver, so stop tracking it.
			if err := s.client.XAck(ctx, s.topic, s.cfg.consumerID, id).Err(); err != nil && ctx.Err() == nil {
				s.log.Warn("dropping a trimmed pending message failed", "id", id, "error", err)
			}
		case err != nil:
			if ctx.Err() == nil {
				s.log.Warn("claiming a pending message failed", "id", id, "error", err)
			}
			return
		default:
			s.enqueue(ctx, msgs)
		}
	}
}

func (s *subscription) xclaim(ctx context.Context, ids []string) ([]goredis.XMessage, error) {
	return s.client.XClaim(ctx, &goredis.XClaimArgs{
		Stream:   s.topic,
		Group:    s.cfg.consumerID,
		Consumer: s.cfg.consumerID,
		MinIdle:  s.cfg.processingTimeout,
		Messages: ids,
	}).Result()
}

// nextID is the smallest stream id after id ("ms-seq"), where the next page
// of an inclusive XPENDING range starts. (Exclusive ranges need Redis 6.2.)
func nextID(id string) (string, error) {
	msPart, seqPart, ok := strings.Cut(id, "-")
	ms, err1 := strconv.ParseUint(msPart, 10, 64)
	seq, err2 := strconv.ParseUint(seqPart, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return "", fmt.Errorf("malformed stream id %q", id)
	}
	if seq == ^uint64(0) {
		return strconv.FormatUint(ms+1, 10) + "-0", nil
	}
	return msPart + "-" + strconv.FormatUint(seq+1, 10), nil
}
