package delivery

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/telemetry/tracing"
)

// grpcApp calls a gRPC app's AppCallback services directly.
type grpcApp struct {
	app   runtimev1.AppCallbackClient
	alpha runtimev1.AppCallbackAlphaClient
	token string
	sem   chan struct{} // nil: unlimited
}

func newGRPCApp(conn *grpc.ClientConn, token string, maxConcurrency int) *grpcApp {
	g := &grpcApp{
		app:   runtimev1.NewAppCallbackClient(conn),
		alpha: runtimev1.NewAppCallbackAlphaClient(conn),
		token: token,
	}
	if maxConcurrency > 0 {
		g.sem = make(chan struct{}, maxConcurrency)
	}
	return g
}

// acquire takes a concurrency slot; the returned func frees it.
func (g *grpcApp) acquire(ctx context.Context) (func(), error) {
	if g.sem == nil {
		return func() {}, nil
	}
	select {
	case g.sem <- struct{}{}:
		return func() { <-g.sem }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for an app concurrency slot: %w", ctx.Err())
	}
}

// outgoing adds the app token and the message metadata to a call.
func (g *grpcApp) outgoing(ctx context.Context, md map[string]string) context.Context {
	out := metadata.MD{}
	for k, v := range md {
		k = strings.ToLower(k)
		if validMetadataKey(k) && printable(v) {
			out[k] = append(out[k], v)
		}
	}
	if g.token != "" {
		out["dapr-api-token"] = []string{g.token}
	}
	tracing.InjectGRPC(ctx, out)
	return metadata.NewOutgoingContext(ctx, out)
}

// deliver calls OnTopicEvent: Unimplemented drops, other errors retry.
func (g *grpcApp) deliver(ctx context.Context, d *delivery) (outcome, error) {
	release, err := g.acquire(ctx)
	if err != nil {
		return outcomeRetry, err
	}
	defer release()
	req := topicEventRequest(d)
	resp, err := g.app.OnTopicEvent(g.outgoing(ctx, d.msg.Metadata), req)
	if status.Code(err) == codes.Unimplemented {
		return outcomeDrop, fmt.Errorf("app does not implement OnTopicEvent: %w", err)
	}
	if err != nil {
		return outcomeRetry, &GRPCStatusError{Code: status.Code(err), Err: fmt.Errorf("OnTopicEvent: %w", err)}
	}
	return statusOutcome(resp.GetStatus())
}

// GRPCStatusError is a delivery the app's OnTopicEvent failed with a gRPC
// status; it lets resiliency policies match on the code.
type GRPCStatusError struct {
	Code codes.Code
	Err  error
}

func (e *GRPCStatusError) Error() string { return e.Err.Error() }
func (e *GRPCStatusError) Unwrap() error { return e.Err }

// ResiliencyStatus reports the gRPC code to retry matching.
func (e *GRPCStatusError) ResiliencyStatus() (code int, grpc bool) { return int(e.Code), true }

func statusOutcome(st runtimev1.TopicEventResponse_TopicEventResponseStatus) (outcome, error) {
	switch st {
	case runtimev1.TopicEventResponse_SUCCESS:
		return outcomeSuccess, nil
	case runtimev1.TopicEventResponse_DROP:
		return outcomeDrop, fmt.Errorf("subscriber answered status DROP")
	case runtimev1.TopicEventResponse_RETRY:
		return outcomeRetry, fmt.Errorf("subscriber answered status RETRY")
	}
	return outcomeRetry, fmt.Errorf("subscriber answered unknown status %d", st)
}

// topicEventRequest is the event as gRPC subscribers (apps and streams)
// receive it.
func topicEventRequest(d *delivery) *runtimev1.TopicEventRequest {
	ce := ceRequest(d.ev)
	return &runtimev1.TopicEventRequest{
		Id:              ce.Id,
		Source:          ce.Source,
		Type:            ce.Type,
		SpecVersion:     ce.SpecVersion,
		DataContentType: ce.DataContentType,
		Data:            ce.Data,
		Topic:           d.topic,
		PubsubName:      d.sub.pubsub,
		Path:            d.path,
		Extensions:      ce.Extensions,
	}
}

// isCEField: the attributes with their own field in gRPC requests; every
// other attribute is an extension.
func isCEField(k string) bool {
	switch k {
	case "id", "source", "type", "specversion", "datacontenttype", "data", "data_base64":
		return true
	}
	return false
}

func ceRequest(ev *event) *runtimev1.TopicEventCERequest {
	ext := make(map[string]any)
	for k, v := range ev.attributes() {
		if !isCEField(k) {
			ext[k] = plainValue(v)
		}
	}
	extensions, err := structpb.NewStruct(ext)
	if err != nil {
		extensions = nil // only values JSON cannot hold fail; none come from JSON
	}
	return &runtimev1.TopicEventCERequest{
		Id:              ev.str("id"),
		Source:          ev.str("source"),
		Type:            ev.str("type"),
		SpecVersion:     ev.str("specversion"),
		DataContentType: ev.str("datacontenttype"),
		Data:            eventData(ev),
		Extensions:      extensions,
	}
}

// eventData decodes the CloudEvent's payload: data_base64 decoded, text
// and XML data as its string bytes, JSON data re-encoded.
func eventData(ev *event) []byte {
	if ev.binary {
		return ev.data
	}
	if s, ok := ev.attributes()["data_base64"].(string); ok && s != "" {
		if b, err := base64.StdEncoding.DecodeString(s); err == nil {
			return b
		}
	}
	data, ok := ev.attributes()["data"]
	if !ok || data == nil {
		return nil
	}
	ct := ev.str("datacontenttype")
	s, isString := data.(string)
	switch {
	case isString && pubsub.IsStringContentType(ct):
		return []byte(s)
	case pubsub.IsJSONContentType(ct) || pubsub.IsCloudEventContentType(ct) || !isString:
		b, err := json.Marshal(data)
		if err != nil {
			return nil
		}
		return b
	}
	return []byte(s) // a string under another content type: its bytes
}

func validMetadataKey(k string) bool {
	if k == "" || k[0] == ':' || strings.HasPrefix(k, "grpc-") || k == "content-type" || k == "te" || k == "user-agent" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '.' && c != '-' && c != '_' {
			return false
		}
	}
	return !strings.HasSuffix(k, "-bin")
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
