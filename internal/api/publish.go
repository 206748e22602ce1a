package api

import (
	"context"
	"errors"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/telemetry/tracing"
)

// ValidatePublish runs the checks every publish starts with, in daprd's
// order: a pub/sub exists at all, the name is given and known, the topic is
// given, and rawPayload is a boolean. The HTTP API calls it before reading
// the body so a bad request fails the way daprd fails it.
func (c *Core) ValidatePublish(name, topic string, md map[string]string) error {
	_, _, err := c.publishTarget(name, topic, md)
	return err
}

// publishTarget validates a publish and returns the pub/sub and whether the
// payload is raw.
func (c *Core) publishTarget(name, topic string, md map[string]string) (*pubsub.Component, bool, error) {
	pubsubs := c.comps().pubsubs
	if len(pubsubs) == 0 {
		return nil, false, apierr.PubSubNotConfigured(name, md)
	}
	if name == "" {
		return nil, false, apierr.PubSubEmpty(md)
	}
	ps, ok := pubsubs[name]
	if !ok {
		return nil, false, apierr.PubSubNotFound(name, md)
	}
	if topic == "" {
		return nil, false, apierr.PubSubTopicEmpty(name, md)
	}
	raw, err := pubsub.RawPayload(md)
	if err != nil {
		return nil, false, apierr.PubSubRequestMetadata(name, md, err)
	}
	return ps, raw, nil
}

// PublishEvent publishes one event, wrapped in a CloudEvent unless the
// metadata asks for a raw payload.
func (c *Core) PublishEvent(ctx context.Context, req *runtimev1.PublishEventRequest) error {
	md, topic := req.GetMetadata(), req.GetTopic()
	ps, raw, err := c.publishTarget(req.GetPubsubName(), topic, md)
	if err != nil {
		return err
	}
	ctx, span := c.tracing.StartPublish(ctx, ps.Name, topic)
	defer span.End()
	data, ct := req.GetData(), req.GetDataContentType()
	if !raw {
		if data, err = c.envelope(ctx, ps, topic, ct, data, md); err != nil {
			return err
		}
		ct = pubsub.ContentTypeCloudEvent
	}
	// As in daprd, the topic rules are checked once the event is built.
	if !ps.Scopes.CanPublish(topic) {
		return apierr.PubSubForbidden(ps.Name, topic, c.appID)
	}
	preq := &pubsub.PublishRequest{Topic: topic, Data: data, ContentType: ct, Metadata: pubsub.BrokerMetadata(md)}
	err = c.measuredPublish(ps.Name, topic).Run(ctx, func(ctx context.Context) error { return ps.Publish(ctx, preq) })
	if err != nil {
		return publishError(ps.Name, topic, err)
	}
	return nil
}

// publishError maps a broker failure to Dapr's error.
func publishError(name, topic string, err error) error {
	if errors.Is(err, pubsub.ErrNotFound) {
		return apierr.PubSubTestNotFound(name, topic, err)
	}
	return apierr.PubSubPublishMessage(name, topic, err)
}

// envelope builds the CloudEvent for one event. The envelope carries an
// expiration only when the broker can't expire messages itself.
func (c *Core) envelope(ctx context.Context, ps *pubsub.Component, topic, ct string, data []byte, md map[string]string) ([]byte, error) {
	er := pubsub.EnvelopeRequest{Source: c.appID, Topic: topic, PubSub: ps.Name, ContentType: ct, Data: data, Metadata: md}
	er.TraceParent, er.TraceState = tracing.Traceparent(ctx)
	if ttl, ok := pubsub.TTL(md); ok && !ps.Has(pubsub.FeatureMessageTTL) {
		er.TTL = ttl
	}
	b, err := pubsub.NewEnvelope(er)
	switch {
	case errors.Is(err, pubsub.ErrInvalidCloudEvent):
		return nil, apierr.PubSubCloudEventCreation(ps.Name, c.appID, err)
	case err != nil:
		return nil, apierr.PubSubMarshalEnvelope(ps.Name, topic, c.appID, err)
	}
	return b, nil
}

// BulkPublishEvent publishes many events to one topic. Each entry gets its
// own CloudEvent unless rawPayload is set; entry metadata is the request
// metadata overlaid with the entry's own. Entries the broker did not take
// are listed in the response; the call itself still succeeds.
func (c *Core) BulkPublishEvent(ctx context.Context, req *runtimev1.BulkPublishRequest) (*runtimev1.BulkPublishResponse, error) {
	md, topic := req.GetMetadata(), req.GetTopic()
	ps, raw, err := c.publishTarget(req.GetPubsubName(), topic, md)
	if err != nil {
		return nil, err
	}
	entries, err := c.bulkEntries(ctx, ps, topic, raw, md, req.GetEntries())
	if err != nil {
		return nil, err
	}
	if !ps.Scopes.CanPublish(topic) {
		return nil, apierr.PubSubForbidden(ps.Name, topic, c.appID)
	}
	out := &runtimev1.BulkPublishResponse{}
	if len(entries) == 0 {
		return out, nil
	}
	breq := &pubsub.BulkPublishRequest{Topic: topic, Entries: entries, Metadata: pubsub.BrokerMetadata(md)}
	var failures []pubsub.BulkPublishFailure
	err = c.outbound(ps.Name, resiliency.Pubsub).Run(ctx, func(ctx context.Context) (err error) {
		failures, err = ps.BulkPublish(ctx, breq)
		return err
	})
	if first := pubsub.FirstError(failures, err); errors.Is(first, pubsub.ErrNotFound) {
		return nil, apierr.PubSubTestNotFound(ps.Name, topic, first)
	}
	for _, f := range failures {
		fe := &runtimev1.BulkPublishResponseFailedEntry{EntryId: f.EntryID}
		if f.Error != nil {
			fe.Error = f.Error.Error()
		}
		out.FailedEntries = append(out.FailedEntries, fe)
	}
	return out, nil
}

// bulkEntries checks entry ids (present, unique) and builds each entry's
// payload.
func (c *Core) bulkEntries(ctx context.Context, ps *pubsub.Component, topic string, raw bool, md map[string]string, in []*runtimev1.BulkPublishRequestEntry) ([]pubsub.BulkPublishEntry, error) {
	out := make([]pubsub.BulkPublishEntry, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, e := range in {
		id := e.GetEntryId()
		if id == "" || seen[id] {
			return nil, apierr.PubSubEntryID(ps.Name, topic, c.appID)
		}
		seen[id] = true
		emd := mergeMetadata(md, e.GetMetadata())
		data, ct := e.GetEvent(), e.GetContentType()
		if !raw {
			var err error
			if data, err = c.envelope(ctx, ps, topic, ct, data, emd); err != nil {
				return nil, err
			}
			ct = pubsub.ContentTypeCloudEvent
		}
		out = append(out, pubsub.BulkPublishEntry{EntryID: id, Data: data, ContentType: ct, Metadata: pubsub.BrokerMetadata(emd)})
	}
	return out, nil
}
