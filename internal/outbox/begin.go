package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/state"
)

// contentTypeJSON is the internal message's content type.
const contentTypeJSON = "application/json"

// Begin prepares a transaction on a store: it builds the CloudEvents of
// the upserts, publishes them in one internal message, and returns the
// operations to commit instead (projections removed, the marker upsert
// added). The caller commits them with Multi and then calls done with
// Multi's result. An error means nothing was published and the
// transaction must not run. A store without an outbox, or a transaction
// without upserts, is returned unchanged.
func (o *Outbox) Begin(ctx context.Context, store string, req state.TransactionRequest) (out state.TransactionRequest, done func(error), err error) {
	noop := func(error) {}
	so := o.stores[store]
	if so == nil {
		return req, noop, nil
	}
	now := time.Now().UTC()
	ops, events, err := so.split(o.appID, req.Operations, now)
	if err != nil {
		return req, noop, err
	}
	out = state.TransactionRequest{Operations: ops, Metadata: req.Metadata}
	if len(events) == 0 {
		return out, noop, nil
	}
	txID := uuid.NewString()
	m := &message{Version: messageVersion, TxID: txID, Store: store, Marker: markerKey(o.appID, txID),
		MarkerMetadata: markerMetadata(req.Metadata), Created: now, Events: events}
	data, err := m.encode()
	if err != nil {
		return req, noop, err
	}
	// Registered before publishing: the message may arrive before Publish
	// returns.
	o.pending.add(txID)
	r := so.internal
	if err := o.publish(ctx, r.pubsub, &pubsub.PublishRequest{Topic: r.topic, Data: data, ContentType: contentTypeJSON}); err != nil {
		o.pending.forget(txID)
		return req, noop, fmt.Errorf("publishing to internal topic %s of pub/sub %s: %w", r.topic, r.pubsub.Name, err)
	}
	marker, _ := json.Marshal(now.Format(time.RFC3339Nano))
	out.Operations = append(out.Operations, state.Operation{Type: state.OpUpsert, Set: state.SetRequest{
		Key: m.Marker, Value: marker, Metadata: m.MarkerMetadata}})
	return out, func(error) { o.pending.settle(txID) }, nil
}

// split removes the projections from ops and builds one event per upsert:
// its projection's value when it has one (the first projection given for
// the key), else its own. A projection without an upsert of its key is an
// error, as in Dapr.
func (so *storeOutbox) split(appID string, ops []state.Operation, now time.Time) ([]state.Operation, []json.RawMessage, error) {
	commit := make([]state.Operation, 0, len(ops)+1)
	projections := map[string]state.SetRequest{}
	var projected []string // keys in request order, for a stable error
	for _, op := range ops {
		if op.Type != state.OpUpsert || !isProjection(op.Set.Metadata) {
			commit = append(commit, op)
			continue
		}
		if _, dup := projections[op.Set.Key]; !dup {
			projections[op.Set.Key] = op.Set
			projected = append(projected, op.Set.Key)
		}
	}
	upserted := map[string]bool{}
	var events []json.RawMessage
	for _, op := range commit {
		if op.Type != state.OpUpsert {
			continue
		}
		upserted[op.Set.Key] = true
		data := op.Set
		if p, ok := projections[op.Set.Key]; ok {
			data = withProjection(op.Set, p)
		}
		ev, err := buildEvent(appID, so.cfg, data, now)
		if err != nil {
			return nil, nil, err
		}
		events = append(events, ev)
	}
	for _, k := range projected {
		if !upserted[k] {
			return nil, nil, fmt.Errorf("outbox projection for key %q has no upsert of that key in the transaction", so.store.Keys.User(k))
		}
	}
	return commit, events, nil
}

// withProjection is the data published for upsert op projected by p: p's
// value and metadata, plus the op's outbox.cloudevent.* metadata that p
// does not set itself.
func withProjection(op, p state.SetRequest) state.SetRequest {
	md := make(map[string]string, len(p.Metadata))
	for k, v := range op.Metadata {
		if strings.HasPrefix(strings.ToLower(k), metaCloudEvent) {
			md[k] = v
		}
	}
	for k, v := range p.Metadata {
		md[k] = v
	}
	p.Metadata = md
	return p
}

func isProjection(md map[string]string) bool {
	b, err := strconv.ParseBool(lookupFold(md, metaProjection))
	return err == nil && b
}

// markerMetadata is the request metadata the marker is written with: what
// locates it (e.g. a partitionKey) but not a TTL, which could expire the
// marker before its message is handled, nor a content type.
func markerMetadata(md map[string]string) map[string]string {
	out := make(map[string]string, len(md))
	for k, v := range md {
		if strings.EqualFold(k, state.MetaTTLInSeconds) || strings.EqualFold(k, state.MetaContentType) {
			continue
		}
		out[k] = v
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
