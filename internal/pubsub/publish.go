package pubsub

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"
)

// Publish metadata keys read by the sidecar.
const (
	// MetaRawPayload=true publishes the body without a CloudEvent envelope.
	MetaRawPayload = "rawPayload"
	// MetaTTL is the alternative TTL key: a Go duration or integer seconds.
	MetaTTL = "ttl"
)

// bulkPublishConcurrency bounds the single publishes run for one bulk
// publish on brokers without BulkPublisher.
const bulkPublishConcurrency = 32

// RawPayload reads the rawPayload metadata: absent or empty is false; a
// value that is not a boolean is an error (daprd's wording).
func RawPayload(md map[string]string) (bool, error) {
	v, ok := md[MetaRawPayload]
	if !ok || v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s value must be a valid boolean: actual is '%s'", MetaRawPayload, v)
	}
	return b, nil
}

// TTL returns the message TTL requested in publish metadata: ttlInSeconds
// (integer seconds), else ttl (a Go duration or integer seconds). Missing,
// unparsable or non-positive values mean no TTL, as in daprd, which leaves
// such values to the broker.
func TTL(md map[string]string) (time.Duration, bool) {
	if v := md[MetaTTLInSeconds]; v != "" {
		return seconds(v)
	}
	v := md[MetaTTL]
	if v == "" {
		return 0, false
	}
	if d, ok := seconds(v); ok {
		return d, true
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, false
	}
	return d, true
}

func seconds(v string) (time.Duration, bool) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	if n > math.MaxInt64/int64(time.Second) {
		return math.MaxInt64, true
	}
	return time.Duration(n) * time.Second, true
}

// BrokerMetadata returns the metadata to hand the broker: the request's
// keys, plus ttlInSeconds when the TTL was given only as `ttl`, so brokers
// read a single key. md is not modified.
func BrokerMetadata(md map[string]string) map[string]string {
	if md[MetaTTLInSeconds] != "" || md[MetaTTL] == "" {
		return md
	}
	ttl, ok := TTL(md)
	if !ok {
		return md
	}
	out := make(map[string]string, len(md)+1)
	for k, v := range md {
		out[k] = v
	}
	// Round up so a sub-second TTL doesn't become "no TTL".
	out[MetaTTLInSeconds] = strconv.FormatInt(int64((ttl+time.Second-1)/time.Second), 10)
	return out
}

// Topic returns the broker topic for an app topic (namespace prefix).
func (c *Component) Topic(topic string) string { return c.NamespacePrefix + topic }

// Publish sends one message; req.Topic is the app's topic, prefixed here.
func (c *Component) Publish(ctx context.Context, req *PublishRequest) error {
	r := *req
	r.Topic = c.Topic(req.Topic)
	return c.Broker.Publish(ctx, &r)
}

// BulkPublish sends many messages to one topic (req.Topic is the app's
// topic). Brokers with BulkPublisher get one call; others one Publish per
// entry, run concurrently. It returns the entries not published, in request
// order; err is the broker's error for the call as a whole, if any, in which
// case failures lists at least the entries it concerns.
func (c *Component) BulkPublish(ctx context.Context, req *BulkPublishRequest) (failures []BulkPublishFailure, err error) {
	r := *req
	r.Topic = c.Topic(req.Topic)
	bp, ok := c.Broker.(BulkPublisher)
	if !ok {
		return c.publishEach(ctx, &r), nil
	}
	failures, err = bp.BulkPublish(ctx, &r)
	if err != nil && len(failures) == 0 {
		// A whole-call failure without detail: nothing was published.
		for _, e := range r.Entries {
			failures = append(failures, BulkPublishFailure{EntryID: e.EntryID, Error: err})
		}
	}
	return failures, err
}

// publishEach publishes the entries one by one, a bounded number at a time.
func (c *Component) publishEach(ctx context.Context, req *BulkPublishRequest) []BulkPublishFailure {
	errs := make([]error, len(req.Entries))
	sem := make(chan struct{}, bulkPublishConcurrency)
	var wg sync.WaitGroup
	for i := range req.Entries {
		e := &req.Entries[i]
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = c.Broker.Publish(ctx, &PublishRequest{Topic: req.Topic, Data: e.Data, ContentType: e.ContentType, Metadata: e.Metadata})
		}()
	}
	wg.Wait()
	var failures []BulkPublishFailure
	for i, err := range errs {
		if err != nil {
			failures = append(failures, BulkPublishFailure{EntryID: req.Entries[i].EntryID, Error: err})
		}
	}
	return failures
}

// FirstError is the error that stands for a bulk publish outcome: the
// call's own error, else the first failed entry's.
func FirstError(failures []BulkPublishFailure, err error) error {
	if err != nil {
		return err
	}
	for _, f := range failures {
		if f.Error != nil {
			return f.Error
		}
	}
	if len(failures) > 0 {
		return errors.New("entry not published")
	}
	return nil
}
