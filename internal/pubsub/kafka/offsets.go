package kafka

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// pinStart commits the current end offset of every newly assigned
// partition that has no committed offset yet (initialOffset=newest).
//
// Without it a new group's position exists only in the member's memory
// and is resolved some time after Subscribe returns: messages published
// in between would be skipped, and so would a backlog published before
// the first message was ever handled, when the next member resolves
// "newest" again. The client reads committed offsets only after the
// assignment callback returns, so it starts exactly here.
func pinStart(ctx context.Context, cl *kgo.Client, group, topic string, partitions []int32) error {
	missing, err := uncommitted(ctx, cl, group, topic, partitions)
	if err != nil || len(missing) == 0 {
		return err
	}
	ends, err := endOffsets(ctx, cl, topic, missing)
	if err != nil {
		return err
	}
	var commitErr error
	cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{topic: ends},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				commitErr = err
				return
			}
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					if err := kerr.ErrorForCode(p.ErrorCode); err != nil && commitErr == nil {
						commitErr = err
					}
				}
			}
		})
	if commitErr != nil {
		return fmt.Errorf("commit start offsets: %w", commitErr)
	}
	return nil
}

// uncommitted returns the partitions for which group has no offset.
func uncommitted(ctx context.Context, cl *kgo.Client, group, topic string, partitions []int32) ([]int32, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	t := kmsg.NewOffsetFetchRequestTopic()
	t.Topic, t.Partitions = topic, partitions
	req.Topics = []kmsg.OffsetFetchRequestTopic{t}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("fetch committed offsets: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("fetch committed offsets: %w", err)
	}
	var missing []int32
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("fetch committed offset of partition %d: %w", p.Partition, err)
			}
			if p.Offset < 0 {
				missing = append(missing, p.Partition)
			}
		}
	}
	return missing, nil
}

// endOffsets returns the high watermark of each partition.
func endOffsets(ctx context.Context, cl *kgo.Client, topic string, partitions []int32) (map[int32]kgo.EpochOffset, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = topic
	for _, p := range partitions {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, -1 // -1: latest
		t.Partitions = append(t.Partitions, rp)
	}
	req.Topics = []kmsg.ListOffsetsRequestTopic{t}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	out := map[int32]kgo.EpochOffset{}
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("list end offset of partition %d: %w", p.Partition, err)
			}
			out[p.Partition] = kgo.EpochOffset{Epoch: p.LeaderEpoch, Offset: p.Offset}
		}
	}
	return out, nil
}
