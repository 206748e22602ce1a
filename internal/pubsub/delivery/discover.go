package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/outrigger/outrigger/internal/appchannel"
	"github.com/outrigger/outrigger/internal/resources"
)

// appSubscription is one element of GET /dapr/subscribe: the v1 shape
// (route) and the v2 shape (routes) may be mixed.
type appSubscription struct {
	PubsubName      string                  `json:"pubsubname"`
	Topic           string                  `json:"topic"`
	Route           string                  `json:"route"`
	Routes          resources.Routes        `json:"routes"`
	Metadata        map[string]string       `json:"metadata"`
	DeadLetterTopic string                  `json:"deadLetterTopic"`
	BulkSubscribe   resources.BulkSubscribe `json:"bulkSubscribe"`
}

func (a appSubscription) spec() resources.SubscriptionSpec {
	routes := a.Routes
	if routes.Default == "" {
		routes.Default = a.Route
	}
	return resources.SubscriptionSpec{
		PubsubName:      a.PubsubName,
		Topic:           a.Topic,
		Routes:          routes,
		Metadata:        a.Metadata,
		DeadLetterTopic: a.DeadLetterTopic,
		BulkSubscribe:   a.BulkSubscribe,
	}
}

// programmatic asks the app for its subscriptions. Failures are logged and
// mean no programmatic subscriptions, as in daprd; an invalid CEL match
// rejects the whole list.
func (e *Engine) programmatic(ctx context.Context) []*subscription {
	var specs []resources.SubscriptionSpec
	var err error
	emptyRoute := e.grpc != nil
	if e.grpc != nil {
		specs, err = e.listGRPC(ctx)
	} else {
		specs, err = e.listHTTP(ctx)
	}
	if err != nil {
		e.log.Error("getting the app's subscriptions failed", "error", err)
		return nil
	}
	var out []*subscription
	for _, spec := range specs {
		s, err := newSubscription(e.env, runtimev1.PubsubSubscriptionType_PROGRAMMATIC, spec, emptyRoute)
		if errors.Is(err, errInvalidMatch) {
			e.log.Error("rejecting all programmatic subscriptions", "error", err)
			return nil
		}
		if err != nil {
			e.log.Warn("ignoring a programmatic subscription", "error", err)
			continue
		}
		out = append(out, s)
	}
	return out
}

// listHTTP is GET /dapr/subscribe.
func (e *Engine) listHTTP(ctx context.Context) ([]resources.SubscriptionSpec, error) {
	var code int
	var body []byte
	err := e.withRetries(ctx, func(ctx context.Context) error {
		req := newAppRequest("dapr/subscribe", commonv1.HTTPExtension_GET, "application/json", nil)
		resp, err := e.cfg.Channel.Invoke(ctx, &appchannel.Request{Message: req, SidecarHeaders: map[string]string{"dapr-app-id": e.cfg.AppID}})
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		code = int(resp.Message.GetStatus().GetCode())
		body, err = io.ReadAll(io.LimitReader(resp.Body, maxStatusBody))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("GET /dapr/subscribe: %w", err)
	}
	switch code {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, nil
	default:
		return nil, fmt.Errorf("GET /dapr/subscribe: app answered HTTP %d", code)
	}
	if len(body) == 0 {
		return nil, nil
	}
	var items []appSubscription
	if err := json.Unmarshal(body, &items); err != nil {
		return nil, fmt.Errorf("GET /dapr/subscribe: decoding the answer: %w", err)
	}
	specs := make([]resources.SubscriptionSpec, 0, len(items))
	for _, it := range items {
		specs = append(specs, it.spec())
	}
	return specs, nil
}

// listGRPC is AppCallback.ListTopicSubscriptions; Unimplemented means no
// subscriptions.
func (e *Engine) listGRPC(ctx context.Context) ([]resources.SubscriptionSpec, error) {
	var resp *runtimev1.ListTopicSubscriptionsResponse
	err := e.withRetries(ctx, func(ctx context.Context) error {
		var err error
		resp, err = e.grpc.app.ListTopicSubscriptions(e.grpc.outgoing(ctx, nil), &emptypb.Empty{})
		if status.Code(err) == codes.Unimplemented {
			resp = nil
			return nil
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ListTopicSubscriptions: %w", err)
	}
	var specs []resources.SubscriptionSpec
	for _, ts := range resp.GetSubscriptions() {
		specs = append(specs, specFromProto(ts))
	}
	return specs, nil
}

func specFromProto(ts *runtimev1.TopicSubscription) resources.SubscriptionSpec {
	spec := resources.SubscriptionSpec{
		PubsubName:      ts.GetPubsubName(),
		Topic:           ts.GetTopic(),
		Metadata:        ts.GetMetadata(),
		DeadLetterTopic: ts.GetDeadLetterTopic(),
		Routes:          resources.Routes{Default: ts.GetRoutes().GetDefault()},
		BulkSubscribe: resources.BulkSubscribe{
			Enabled:            ts.GetBulkSubscribe().GetEnabled(),
			MaxMessagesCount:   ts.GetBulkSubscribe().GetMaxMessagesCount(),
			MaxAwaitDurationMs: ts.GetBulkSubscribe().GetMaxAwaitDurationMs(),
		},
	}
	for _, r := range ts.GetRoutes().GetRules() {
		spec.Routes.Rules = append(spec.Routes.Rules, resources.Rule{Match: r.GetMatch(), Path: r.GetPath()})
	}
	return spec
}

// withRetries runs fn, retrying failures after each of e.backoff's waits
// (daprd: 3 retries, exponential 0.5s to 1s), within 10s overall.
func (e *Engine) withRetries(ctx context.Context, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := fn(ctx)
	for _, wait := range e.backoff {
		if err == nil {
			return nil
		}
		e.log.Debug("retrying subscription discovery", "in", wait, "error", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-t.C:
		}
		err = fn(ctx)
	}
	return err
}
