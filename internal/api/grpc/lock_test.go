package grpc_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/outrigger/outrigger/internal/api"
	apigrpc "github.com/outrigger/outrigger/internal/api/grpc"
	"github.com/outrigger/outrigger/internal/lock"
	"github.com/outrigger/outrigger/internal/lock/sqlite"
)

// failingLockStore fails every call.
type failingLockStore struct{}

func (failingLockStore) Init(context.Context, lock.Metadata) error { return nil }
func (failingLockStore) Close() error                              { return nil }
func (failingLockStore) TryLock(context.Context, string, string, int32) (bool, error) {
	return false, errors.New("backend down")
}
func (failingLockStore) Unlock(context.Context, string, string) (lock.UnlockStatus, error) {
	return lock.UnlockInternalError, errors.New("backend down")
}

// newLockClient serves the gRPC API with a SQLite lock store "lockstore"
// and a failing one "broken"; withStores=false configures no lock store.
func newLockClient(t *testing.T, withStores bool) runtimev1.DaprClient {
	t.Helper()
	var locks []*lock.Component
	if withStores {
		s := sqlite.New()
		md := lock.Metadata{Name: "lockstore", Properties: map[string]string{"connectionString": filepath.Join(t.TempDir(), "locks.db")}}
		if err := s.Init(context.Background(), md); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		locks = []*lock.Component{
			{Name: "lockstore", Type: "lock.sqlite", Version: "v1", Store: s, Prefix: "myapp"},
			{Name: "broken", Type: "lock.broken", Version: "v1", Store: failingLockStore{}},
		}
	}
	srv := apigrpc.NewServer(apigrpc.Config{Core: api.New(api.Config{AppID: "myapp", Locks: locks})})
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

func TestLockOverGRPC(t *testing.T) {
	ctx := context.Background()
	c := newLockClient(t, true)
	try := func(owner string, want bool) {
		t.Helper()
		res, err := c.TryLockAlpha1(ctx, &runtimev1.TryLockRequest{StoreName: "lockstore", ResourceId: "r", LockOwner: owner, ExpiryInSeconds: 30})
		if err != nil || res.GetSuccess() != want {
			t.Fatalf("TryLockAlpha1(%s) = %v, %v; want %v", owner, res, err, want)
		}
	}
	unlock := func(owner string, want runtimev1.UnlockResponse_Status) {
		t.Helper()
		res, err := c.UnlockAlpha1(ctx, &runtimev1.UnlockRequest{StoreName: "lockstore", ResourceId: "r", LockOwner: owner})
		if err != nil || res.GetStatus() != want {
			t.Fatalf("UnlockAlpha1(%s) = %v, %v; want %v", owner, res, err, want)
		}
	}
	unlock("a", runtimev1.UnlockResponse_LOCK_DOES_NOT_EXIST)
	try("a", true)
	try("b", false)
	unlock("b", runtimev1.UnlockResponse_LOCK_BELONGS_TO_OTHERS)
	unlock("a", runtimev1.UnlockResponse_SUCCESS)
	try("b", true)
}

func TestLockErrorsOverGRPC(t *testing.T) {
	ctx := context.Background()
	c := newLockClient(t, true)
	bare := newLockClient(t, false)
	tests := []struct {
		name     string
		call     func() error
		wantCode codes.Code
		wantMsg  string
	}{
		{"expiry first", func() error {
			_, err := bare.TryLockAlpha1(ctx, &runtimev1.TryLockRequest{StoreName: "x"})
			return err
		}, codes.InvalidArgument, "ExpiryInSeconds is not positive in lock store x"},
		{"not configured", func() error {
			_, err := bare.UnlockAlpha1(ctx, &runtimev1.UnlockRequest{StoreName: "x", ResourceId: "r", LockOwner: "o"})
			return err
		}, codes.FailedPrecondition, "lock store is not configured"},
		{"empty resource", func() error {
			_, err := c.TryLockAlpha1(ctx, &runtimev1.TryLockRequest{StoreName: "nope", LockOwner: "o", ExpiryInSeconds: 1})
			return err
		}, codes.InvalidArgument, "ResourceId is empty in lock store nope"},
		{"empty owner", func() error {
			_, err := c.UnlockAlpha1(ctx, &runtimev1.UnlockRequest{StoreName: "nope", ResourceId: "r"})
			return err
		}, codes.InvalidArgument, "LockOwner is empty in lock store nope"},
		{"unknown store", func() error {
			_, err := c.TryLockAlpha1(ctx, &runtimev1.TryLockRequest{StoreName: "nope", ResourceId: "r", LockOwner: "o", ExpiryInSeconds: 1})
			return err
		}, codes.InvalidArgument, "lock store nope not found"},
		{"try lock failure", func() error {
			_, err := c.TryLockAlpha1(ctx, &runtimev1.TryLockRequest{StoreName: "broken", ResourceId: "r", LockOwner: "o", ExpiryInSeconds: 1})
			return err
		}, codes.Internal, "failed to try acquiring lock: backend down"},
		{"unlock failure", func() error {
			_, err := c.UnlockAlpha1(ctx, &runtimev1.UnlockRequest{StoreName: "broken", ResourceId: "r", LockOwner: "o"})
			return err
		}, codes.Internal, "failed to release lock: backend down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := status.Convert(tt.call())
			if st.Code() != tt.wantCode || st.Message() != tt.wantMsg {
				t.Fatalf("status = %v %q; want %v %q", st.Code(), st.Message(), tt.wantCode, tt.wantMsg)
			}
			// Legacy errors: no google.rpc details, as in Dapr.
			if len(st.Details()) != 0 {
				t.Fatalf("details = %v, want none", st.Details())
			}
		})
	}
}
