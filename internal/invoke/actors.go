package invoke

import (
	"context"

	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// ActorServer serves the actor methods of the internal API: calls and
// reminders other sidecars route to the actors this sidecar hosts (the
// actor runtime implements it).
type ActorServer interface {
	CallActor(ctx context.Context, in *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error)
	CallActorReminder(ctx context.Context, in *internalsv1.Reminder) (*emptypb.Empty, error)
}

type actorsRef struct{ a ActorServer }

// SetActors routes the internal actor methods to a.
func (s *Server) SetActors(a ActorServer) {
	s.actors.Store(&actorsRef{a: a})
}

// CallActor serves an actor call another sidecar routed here.
func (s *Server) CallActor(ctx context.Context, in *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error) {
	if ref := s.actors.Load(); ref != nil {
		return ref.a.CallActor(ctx, in)
	}
	return s.UnimplementedServiceInvocationServer.CallActor(ctx, in)
}

// CallActorReminder serves a reminder another sidecar routed here.
func (s *Server) CallActorReminder(ctx context.Context, in *internalsv1.Reminder) (*emptypb.Empty, error) {
	if ref := s.actors.Load(); ref != nil {
		return ref.a.CallActorReminder(ctx, in)
	}
	return s.UnimplementedServiceInvocationServer.CallActorReminder(ctx, in)
}

// ConnTo returns the pooled connection to another sidecar's internal gRPC
// server at addr ("host:port"), as the actor runtime needs to forward calls
// to the owner of an actor.
func (i *Invoker) ConnTo(addr string) (*grpc.ClientConn, error) {
	c, err := i.conns.pooled(addr)
	if err != nil {
		return nil, err
	}
	return i.grpcConn(c), nil
}
