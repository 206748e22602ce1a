package grpc_test

import (
	"context"
	"net"
	"testing"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/outrigger/outrigger/internal/actors"
	"github.com/outrigger/outrigger/internal/actors/actorstest"
	"github.com/outrigger/outrigger/internal/api"
	apigrpc "github.com/outrigger/outrigger/internal/api/grpc"
)

func newActorClient(t *testing.T, rt *actors.Runtime) runtimev1.DaprClient {
	t.Helper()
	core := api.New(api.Config{AppID: "myapp", Actors: rt})
	srv := apigrpc.NewServer(apigrpc.Config{Core: core})
	ln := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(ln) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(); srv.Stop() })
	return runtimev1.NewDaprClient(conn)
}

func TestActorsOverGRPC(t *testing.T) {
	ctx := context.Background()
	rt := actorstest.New(t, actorstest.Options{Placement: &actorstest.Placement{Foreign: map[string]bool{"remote": true}}})
	c := newActorClient(t, rt)

	res, err := c.InvokeActor(ctx, &runtimev1.InvokeActorRequest{ActorType: "myactor", ActorId: "g1", Method: "echo", Data: []byte(`"hi"`)})
	if err != nil || string(res.GetData()) != `"hi"` {
		t.Fatalf("invoke = %q, %v", res.GetData(), err)
	}
	// An app-reported actor error still returns the app's body.
	res, err = c.InvokeActor(ctx, &runtimev1.InvokeActorRequest{ActorType: "myactor", ActorId: "g1", Method: "apperror"})
	if err != nil || string(res.GetData()) != `{"reason":"bad"}` {
		t.Fatalf("app error = %q, %v", res.GetData(), err)
	}

	_, err = c.ExecuteActorStateTransaction(ctx, &runtimev1.ExecuteActorStateTransactionRequest{ActorType: "myactor", ActorId: "g1",
		Operations: []*runtimev1.TransactionalActorStateOperation{{OperationType: "upsert", Key: "k", Value: &anypb.Any{TypeUrl: "ignored", Value: []byte{1, 2, 3}}}}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.GetActorState(ctx, &runtimev1.GetActorStateRequest{ActorType: "myactor", ActorId: "g1", Key: "k"})
	if err != nil || string(st.GetData()) != "\x01\x02\x03" {
		t.Fatalf("state = %v, %v", st.GetData(), err)
	}

	if _, err := c.RegisterActorReminder(ctx, &runtimev1.RegisterActorReminderRequest{ActorType: "myactor", ActorId: "g1", Name: "r", DueTime: "1m", Data: []byte(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	rem, err := c.GetActorReminder(ctx, &runtimev1.GetActorReminderRequest{ActorType: "myactor", ActorId: "g1", Name: "r"})
	if err != nil || rem.GetDueTime() != "1m" || string(rem.GetData().GetValue()) != `{"a":1}` {
		t.Fatalf("reminder = %v, %v", rem, err)
	}
	list, err := c.ListActorReminders(ctx, &runtimev1.ListActorRemindersRequest{ActorType: "myactor"})
	if err != nil || len(list.GetReminders()) != 1 || list.GetReminders()[0].GetName() != "r" {
		t.Fatalf("list = %v, %v", list, err)
	}
	if _, err := c.UnregisterActorRemindersByType(ctx, &runtimev1.UnregisterActorRemindersByTypeRequest{ActorType: "myactor"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RegisterActorTimer(ctx, &runtimev1.RegisterActorTimerRequest{ActorType: "myactor", ActorId: "g1", Name: "t", DueTime: "1s", Callback: "cb"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UnregisterActorTimer(ctx, &runtimev1.UnregisterActorTimerRequest{ActorType: "myactor", ActorId: "g1", Name: "t"}); err != nil {
		t.Fatal(err)
	}

	no := false
	tests := []struct {
		name string
		call func() error
		code codes.Code
		msg  string
	}{
		{"reminder gone", func() error {
			_, err := c.GetActorReminder(ctx, &runtimev1.GetActorReminderRequest{ActorType: "myactor", ActorId: "g1", Name: "r"})
			return err
		}, codes.NotFound, "actor reminder not found: r"},
		{"reminder exists", func() error {
			req := &runtimev1.RegisterActorReminderRequest{ActorType: "myactor", ActorId: "g1", Name: "x", DueTime: "1m", Overwrite: &no}
			if _, err := c.RegisterActorReminder(ctx, req); err != nil {
				return err
			}
			_, err := c.RegisterActorReminder(ctx, req)
			return err
		}, codes.AlreadyExists, "actor reminder already exists: x"},
		{"reminder on non-hosted type", func() error {
			_, err := c.RegisterActorReminder(ctx, &runtimev1.RegisterActorReminderRequest{ActorType: "other", ActorId: "g1", Name: "x"})
			return err
		}, codes.PermissionDenied, "operations on actor reminders are only possible on hosted actor types"},
		{"transaction elsewhere", func() error {
			_, err := c.ExecuteActorStateTransaction(ctx, &runtimev1.ExecuteActorStateTransactionRequest{ActorType: "remote", ActorId: "g1"})
			return err
		}, codes.Internal, "actor instance is missing"},
		{"unknown operation", func() error {
			_, err := c.ExecuteActorStateTransaction(ctx, &runtimev1.ExecuteActorStateTransactionRequest{ActorType: "myactor", ActorId: "g1",
				Operations: []*runtimev1.TransactionalActorStateOperation{{OperationType: "merge", Key: "k"}}})
			return err
		}, codes.Unimplemented, "operation type merge not supported"},
		{"reserved type", func() error {
			_, err := c.GetActorState(ctx, &runtimev1.GetActorStateRequest{ActorType: "dapr.internal.x", ActorId: "g1", Key: "k"})
			return err
		}, codes.PermissionDenied, `actor type "dapr.internal.x" is reserved for the Dapr workflow runtime; direct actor API access is not permitted`},
		{"app failure", func() error {
			_, err := c.InvokeActor(ctx, &runtimev1.InvokeActorRequest{ActorType: "myactor", ActorId: "g1", Method: "fail"})
			return err
		}, codes.Internal, "error invoke actor method: error from actor service: (500) kaput"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := status.Convert(tt.call())
			if st.Code() != tt.code || st.Message() != tt.msg {
				t.Fatalf("status = %v %q, want %v %q", st.Code(), st.Message(), tt.code, tt.msg)
			}
		})
	}
}

func TestActorsOverGRPCWithoutPlacement(t *testing.T) {
	c := newActorClient(t, nil)
	_, err := c.InvokeActor(context.Background(), &runtimev1.InvokeActorRequest{ActorType: "a", ActorId: "b", Method: "m"})
	st := status.Convert(err)
	if st.Code() != codes.Unavailable || st.Message() != "placement service is not configured" {
		t.Fatalf("status = %v %q", st.Code(), st.Message())
	}
}
