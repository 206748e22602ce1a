package actors

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/outrigger/outrigger/internal/sleep"
)

// Header names the runtime reads or sets (metadata keys are lower-case).
const (
	HeaderReentrancyID = "dapr-reentrancy-id"
	headerActorError   = "x-daprerrorresponseheader"
)

const (
	// routeAttempts bounds how often a call is routed again when the
	// placement table changed under it.
	routeAttempts = 5
	routeBackoff  = 100 * time.Millisecond
	// notOwnedMessage marks a call that reached a host that no longer owns
	// the actor; the caller routes it again.
	notOwnedMessage = "actor is not hosted on this sidecar"
)

// errMoved: the placement table changed while the call waited for its turn.
var errMoved = errors.New("the actor moved to another host")

// Invoke calls an actor method wherever the actor lives: on this host
// through the app, or on its owner through the internal gRPC API. req.Actor
// names the actor. An app-reported error comes back as *ActorError.
func (r *Runtime) Invoke(ctx context.Context, req *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error) {
	if r.closed.Load() {
		return nil, ErrClosed
	}
	typ, id := req.GetActor().GetActorType(), req.GetActor().GetActorId()
	// The actor's Resiliency policy (retry, circuit breaker) applies before
	// its lock is taken, around finding and calling the owner.
	pre := r.cfg.Resiliency.ActorPreLockPolicy(typ, id)
	if pre.IsZero() {
		return r.route(ctx, req)
	}
	var resp *internalsv1.InternalInvokeResponse
	err := pre.Run(ctx, func(ctx context.Context) error {
		var err error
		resp, err = r.route(ctx, req)
		return err
	})
	return resp, err
}

// route sends a call to the actor's owner: this host or another.
func (r *Runtime) route(ctx context.Context, req *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error) {
	typ, id := req.GetActor().GetActorType(), req.GetActor().GetActorId()
	var lastErr error
	for attempt := range routeAttempts {
		if attempt > 0 {
			if err := sleep.Wait(ctx, routeBackoff<<(attempt-1)); err != nil {
				return nil, lastErr
			}
		}
		gen := r.gen.Load()
		host, err := r.cfg.Placement.LookupActor(ctx, typ, id)
		if err != nil {
			return nil, err
		}
		var resp *internalsv1.InternalInvokeResponse
		if host.Name == r.cfg.HostName {
			resp, err = r.callLocal(ctx, gen, req)
		} else {
			resp, err = r.forward(ctx, host, req)
		}
		if errors.Is(err, errMoved) {
			lastErr = err
			continue
		}
		return resp, err
	}
	return nil, lastErr
}

// callLocal runs a call on an actor this host owns, in the actor's turn.
func (r *Runtime) callLocal(ctx context.Context, gen uint64, req *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error) {
	if r.cfg.App == nil {
		return nil, ErrNoApp
	}
	typ, id := req.GetActor().GetActorType(), req.GetActor().GetActorId()
	tc := r.typeConfig(typ)
	rid := ""
	if tc.reentrant {
		rid = reentrancyID(req)
	}
	a, err := r.acquire(ctx, gen, typ, id, rid, tc.maxStackDepth)
	if err != nil {
		return nil, err
	}
	defer a.unlock(true)
	resp, err := r.invokeApp(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("error invoking actor %s/%s: %w", typ, id, err)
	}
	return appResult(resp)
}

// invokeApp calls the app under the actor's post-lock policy (timeout).
func (r *Runtime) invokeApp(ctx context.Context, req *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error) {
	post := r.cfg.Resiliency.ActorPostLockPolicy(req.GetActor().GetActorType(), req.GetActor().GetActorId())
	if post.IsZero() {
		return r.cfg.App.InvokeMethod(ctx, req)
	}
	var resp *internalsv1.InternalInvokeResponse
	err := post.Run(ctx, func(ctx context.Context) error {
		var err error
		resp, err = r.cfg.App.InvokeMethod(ctx, req)
		return err
	})
	return resp, err
}

// acquire takes the turn of a local actor, activating it if needed. It
// fails with errMoved when the placement table changed since gen.
func (r *Runtime) acquire(ctx context.Context, gen uint64, typ, id, rid string, maxDepth int) (*actor, error) {
	for {
		if r.closed.Load() {
			return nil, ErrClosed
		}
		a := r.table.getOrCreate(typ, id)
		w, err := a.enter(rid, maxDepth)
		if err == nil && w != nil {
			// Only a call that waits for the turn is pending: most find it
			// free, and skip the metric's two updates.
			r.cfg.Observer.ActorPendingCallsAdd(typ, 1)
			err = a.await(ctx, w)
			r.cfg.Observer.ActorPendingCallsAdd(typ, -1)
		}
		if errors.Is(err, errGone) {
			select {
			case <-a.gone:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if err != nil {
			return nil, err
		}
		if r.gen.Load() != gen {
			a.unlock(false)
			return nil, errMoved
		}
		if a.markActivated() {
			r.cfg.Observer.ActorActivated(typ)
		}
		return a, nil
	}
}

// reentrancyID returns the call's reentrancy id, adding a new one when the
// call starts a chain, so the app passes it on to nested calls.
func reentrancyID(req *internalsv1.InternalInvokeRequest) string {
	md := req.GetMetadata()
	if v := md[HeaderReentrancyID]; v != nil && len(v.GetValues()) > 0 {
		return v.GetValues()[0]
	}
	for k, v := range md {
		if strings.EqualFold(k, HeaderReentrancyID) && len(v.GetValues()) > 0 {
			return v.GetValues()[0]
		}
	}
	rid := uuid.NewString()
	if req.Metadata == nil {
		req.Metadata = map[string]*internalsv1.ListStringValue{}
	}
	req.Metadata[HeaderReentrancyID] = &internalsv1.ListStringValue{Values: []string{rid}}
	return rid
}

// appResult interprets the app's answer: success (HTTP 200, or gRPC OK),
// an app-reported actor error, or a failure.
func appResult(resp *internalsv1.InternalInvokeResponse) (*internalsv1.InternalInvokeResponse, error) {
	if resp == nil {
		return nil, errors.New("the app returned no response")
	}
	if hasHeader(resp, headerActorError) {
		return nil, &ActorError{Response: resp}
	}
	code := resp.GetStatus().GetCode()
	if code == 200 || code == 0 {
		return resp, nil
	}
	return nil, fmt.Errorf("error from actor service: (%d) %s", code, string(resp.GetMessage().GetData().GetValue()))
}

func hasHeader(resp *internalsv1.InternalInvokeResponse, name string) bool {
	for k := range resp.GetHeaders() {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// forward sends a call to the actor's owner.
func (r *Runtime) forward(ctx context.Context, host Host, req *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error) {
	ctx, cancel := r.forwardContext(ctx)
	defer cancel()
	client, err := r.peer(ctx, host)
	if err != nil {
		return nil, err
	}
	resp, err := client.CallActor(ctx, req)
	if err != nil {
		return nil, fromWire(host, err)
	}
	if hasHeader(resp, headerActorError) {
		return nil, &ActorError{Response: resp}
	}
	return resp, nil
}

func (r *Runtime) forwardContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, r.cfg.ForwardTimeout)
}

func (r *Runtime) peer(ctx context.Context, host Host) (internalsv1.ServiceInvocationClient, error) {
	if r.cfg.Dial == nil {
		return nil, fmt.Errorf("cannot reach actor host %s: no connection to other sidecars", host.Name)
	}
	conn, err := r.cfg.Dial(ctx, host.Name)
	if err != nil {
		return nil, fmt.Errorf("connect to actor host %s: %w", host.Name, err)
	}
	return internalsv1.NewServiceInvocationClient(conn), nil
}

// toWire turns a local failure into the status another sidecar receives.
func toWire(err error) error {
	switch {
	case errors.Is(err, errMoved):
		return status.Error(codes.FailedPrecondition, notOwnedMessage)
	case errors.Is(err, ErrClosed):
		return status.Error(codes.Unavailable, ErrClosed.Error())
	case errors.Is(err, ErrStackDepth):
		return status.Error(codes.ResourceExhausted, ErrStackDepth.Error())
	case errors.Is(err, ErrNoHost):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.Internal, err.Error())
}

// fromWire turns a peer's status back into the runtime's errors: a host
// that no longer owns the actor, or is shutting down, makes the call route
// again.
func fromWire(host Host, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("call to actor host %s: %w", host.Name, err)
	}
	switch {
	case st.Code() == codes.FailedPrecondition && st.Message() == notOwnedMessage,
		st.Code() == codes.Unavailable && st.Message() == ErrClosed.Error():
		return errMoved
	case st.Code() == codes.ResourceExhausted && st.Message() == ErrStackDepth.Error():
		return ErrStackDepth
	case st.Code() == codes.NotFound && st.Message() == ErrNoHost.Error():
		return ErrNoHost
	}
	return fmt.Errorf("call to actor host %s: %s", host.Name, st.Message())
}

// CallActor serves internals.v1 CallActor: a call another sidecar routed
// here. Answers carry gRPC statuses; an app-reported error is a normal
// response with X-Daprerrorresponseheader, which the caller relays.
func (r *Runtime) CallActor(ctx context.Context, req *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error) {
	if req.GetActor() == nil || req.GetMessage() == nil {
		return nil, status.Error(codes.InvalidArgument, "the request names no actor or carries no message")
	}
	if r.closed.Load() {
		return nil, toWire(ErrClosed)
	}
	gen := r.gen.Load()
	owned, err := r.IsLocal(ctx, req.Actor.GetActorType(), req.Actor.GetActorId())
	if err != nil {
		return nil, toWire(err)
	}
	if !owned {
		return nil, toWire(errMoved)
	}
	resp, err := r.callLocal(ctx, gen, req)
	if ae, ok := IsActorError(err); ok {
		return ae.Response, nil
	}
	if err != nil {
		return nil, toWire(err)
	}
	return resp, nil
}

// IsLocal reports whether this host owns the actor (placement's view).
func (r *Runtime) IsLocal(ctx context.Context, actorType, actorID string) (bool, error) {
	host, err := r.cfg.Placement.LookupActor(ctx, actorType, actorID)
	if err != nil {
		return false, err
	}
	return host.Name == r.cfg.HostName, nil
}
