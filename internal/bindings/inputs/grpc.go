package inputs

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/telemetry/tracing"
)

// grpcApp calls a gRPC app's AppCallback service.
type grpcApp struct {
	app   runtimev1.AppCallbackClient
	token string
	sem   chan struct{} // nil: unlimited

	mu     sync.Mutex
	listed []string // ListInputBindings answer, once known
	known  bool
}

func newGRPCApp(conn *grpc.ClientConn, token string, maxConcurrency int) *grpcApp {
	g := &grpcApp{app: runtimev1.NewAppCallbackClient(conn), token: token}
	if maxConcurrency > 0 {
		g.sem = make(chan struct{}, maxConcurrency)
	}
	return g
}

func (g *grpcApp) outgoing(ctx context.Context) context.Context {
	ctx = tracing.OutgoingGRPC(ctx)
	if g.token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "dapr-api-token", g.token)
}

// listBindings asks ListInputBindings once and remembers the answer;
// Unimplemented means none. A failed call is asked again next time.
func (g *grpcApp) listBindings(ctx context.Context) ([]string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.known {
		return g.listed, nil
	}
	resp, err := g.app.ListInputBindings(g.outgoing(ctx), &emptypb.Empty{})
	if err != nil && status.Code(err) != codes.Unimplemented {
		return nil, fmt.Errorf("ListInputBindings: %w", err)
	}
	g.listed, g.known = resp.GetBindings(), true
	return g.listed, nil
}

// deliverGRPC calls OnBindingEvent; any error is a failure. The answer
// may save state and send data on to output bindings.
func (e *Engine) deliverGRPC(ctx context.Context, b *Binding, ev *bindings.Event) ([]byte, error) {
	g := e.grpc
	if g.sem != nil {
		select {
		case g.sem <- struct{}{}:
			defer func() { <-g.sem }()
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for an app concurrency slot: %w", ctx.Err())
		}
	}
	req := &runtimev1.BindingEventRequest{Name: b.Name, Data: ev.Data, Metadata: ev.Metadata}
	resp, err := g.app.OnBindingEvent(g.outgoing(ctx), req)
	if err != nil {
		return nil, fmt.Errorf("error invoking app: %w", err)
	}
	e.onAppResponse(ctx, resp)
	return resp.GetData(), nil
}

// onAppResponse carries out the app's answer: states are saved to
// store_name, and data is sent (operation create) to the output bindings
// in `to`, one after another or all at once. Failures are logged: the
// event itself was delivered.
func (e *Engine) onAppResponse(ctx context.Context, resp *runtimev1.BindingEventResponse) {
	if store, states := resp.GetStoreName(), resp.GetStates(); store != "" && len(states) > 0 && e.cfg.SaveState != nil {
		if err := e.cfg.SaveState(ctx, store, states); err != nil {
			e.log.Error("error saving state from the app's binding answer", "store", store, "error", err)
		}
	}
	to := resp.GetTo()
	if len(to) == 0 || e.cfg.SendToOutput == nil {
		return
	}
	data := forwardData(resp.GetData())
	send := func(ctx context.Context, name string) error {
		_, err := e.cfg.SendToOutput(ctx, name, &bindings.InvokeRequest{Operation: bindings.OpCreate, Data: data})
		if err != nil {
			e.log.Error("error sending the app's binding answer", "binding", name, "error", err)
		}
		return err
	}
	if resp.GetConcurrency() == runtimev1.BindingEventResponse_PARALLEL {
		for _, name := range to {
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				// Outlives the delivery; Stop waits for it.
				_ = send(e.life, name)
			}()
		}
		return
	}
	for _, name := range to {
		if send(ctx, name) != nil {
			return // sequential: stop at the first failure
		}
	}
}

// forwardData is the app's data as daprd forwards it: decoded as JSON and
// encoded again (null when it is not JSON).
func forwardData(data []byte) []byte {
	var v any
	if json.Unmarshal(data, &v) != nil {
		v = nil
	}
	out, _ := json.Marshal(v) // a decoded JSON value always encodes
	return out
}
