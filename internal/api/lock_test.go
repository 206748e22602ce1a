package api_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc/codes"

	"github.com/outrigger/outrigger/internal/api"
	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/lock"
	"github.com/outrigger/outrigger/internal/lock/sqlite"
)

// keyRecorder passes calls to a real store and records the keys it gets.
type keyRecorder struct {
	lock.Store
	mu   sync.Mutex
	keys []string
}

func (k *keyRecorder) record(key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys = append(k.keys, key)
}

func (k *keyRecorder) TryLock(ctx context.Context, key, owner string, expiry int32) (bool, error) {
	k.record(key)
	return k.Store.TryLock(ctx, key, owner, expiry)
}

func (k *keyRecorder) Unlock(ctx context.Context, key, owner string) (lock.UnlockStatus, error) {
	k.record(key)
	return k.Store.Unlock(ctx, key, owner)
}

// brokenLockStore fails every call.
type brokenLockStore struct{}

func (brokenLockStore) Init(context.Context, lock.Metadata) error { return nil }
func (brokenLockStore) Close() error                              { return nil }
func (brokenLockStore) TryLock(context.Context, string, string, int32) (bool, error) {
	return false, errors.New("backend down")
}
func (brokenLockStore) Unlock(context.Context, string, string) (lock.UnlockStatus, error) {
	return lock.UnlockInternalError, errors.New("backend down")
}

func sqliteLockStore(t *testing.T) lock.Store {
	t.Helper()
	s := sqlite.New()
	md := lock.Metadata{Name: "lockstore", Properties: map[string]string{"connectionString": filepath.Join(t.TempDir(), "locks.db")}}
	if err := s.Init(context.Background(), md); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func lockCore(t *testing.T, prefix string) (*api.Core, *keyRecorder) {
	rec := &keyRecorder{Store: sqliteLockStore(t)}
	core := api.New(api.Config{AppID: "myapp", Locks: []*lock.Component{
		{Name: "lockstore", Type: "lock.sqlite", Version: "v1", Store: rec, Prefix: prefix},
		{Name: "broken", Type: "lock.broken", Version: "v1", Store: brokenLockStore{}},
	}})
	return core, rec
}

func TestLockRoundTrip(t *testing.T) {
	ctx := context.Background()
	core, rec := lockCore(t, "myapp")
	try := func(owner string, want bool) {
		t.Helper()
		res, err := core.TryLock(ctx, &runtimev1.TryLockRequest{StoreName: "lockstore", ResourceId: "orders", LockOwner: owner, ExpiryInSeconds: 30})
		if err != nil || res.GetSuccess() != want {
			t.Fatalf("TryLock(%s) = %v, %v; want %v", owner, res, err, want)
		}
	}
	unlock := func(owner string, want runtimev1.UnlockResponse_Status) {
		t.Helper()
		res, err := core.Unlock(ctx, &runtimev1.UnlockRequest{StoreName: "lockstore", ResourceId: "orders", LockOwner: owner})
		if err != nil || res.GetStatus() != want {
			t.Fatalf("Unlock(%s) = %v, %v; want %v", owner, res, err, want)
		}
	}
	unlock("a", runtimev1.UnlockResponse_LOCK_DOES_NOT_EXIST)
	try("a", true)
	try("b", false)
	try("a", false)
	unlock("b", runtimev1.UnlockResponse_LOCK_BELONGS_TO_OTHERS)
	unlock("a", runtimev1.UnlockResponse_SUCCESS)
	try("b", true)
	for _, k := range rec.keys {
		if k != "lock||myapp||orders" {
			t.Fatalf("store got key %q, want lock||myapp||orders", k)
		}
	}
}

func TestLockKeyWithoutPrefix(t *testing.T) {
	core, rec := lockCore(t, "")
	if _, err := core.TryLock(context.Background(), &runtimev1.TryLockRequest{StoreName: "lockstore", ResourceId: "r", LockOwner: "o", ExpiryInSeconds: 1}); err != nil {
		t.Fatal(err)
	}
	if len(rec.keys) != 1 || rec.keys[0] != "lock||r" {
		t.Fatalf("keys = %q, want [lock||r]", rec.keys)
	}
}

func TestLockErrors(t *testing.T) {
	ctx := context.Background()
	core, rec := lockCore(t, "myapp")
	none := api.New(api.Config{AppID: "myapp"})
	type want struct {
		code   string
		status int
		grpc   codes.Code
		msg    string
	}
	var (
		notConfigured = want{"ERR_LOCK_STORE_NOT_CONFIGURED", 500, codes.FailedPrecondition, "lock store is not configured"}
		notFound      = want{"ERR_LOCK_STORE_NOT_FOUND", 400, codes.InvalidArgument, "lock store nope not found"}
		noResource    = want{"ERR_MALFORMED_REQUEST", 400, codes.InvalidArgument, "ResourceId is empty in lock store nope"}
		noOwner       = want{"ERR_MALFORMED_REQUEST", 400, codes.InvalidArgument, "LockOwner is empty in lock store nope"}
		badExpiry     = want{"ERR_MALFORMED_REQUEST", 400, codes.InvalidArgument, "ExpiryInSeconds is not positive in lock store nope"}
	)
	tryTests := []struct {
		name string
		core *api.Core
		req  *runtimev1.TryLockRequest
		want want
	}{
		// Expiry is checked before anything else, even with no lock store.
		{"expiry first", none, &runtimev1.TryLockRequest{StoreName: "nope"}, badExpiry},
		{"negative expiry", core, &runtimev1.TryLockRequest{StoreName: "nope", ResourceId: "r", LockOwner: "o", ExpiryInSeconds: -1}, badExpiry},
		{"no lock stores", none, &runtimev1.TryLockRequest{StoreName: "nope", ExpiryInSeconds: 1}, notConfigured},
		{"resource before store", core, &runtimev1.TryLockRequest{StoreName: "nope", LockOwner: "o", ExpiryInSeconds: 1}, noResource},
		{"owner before store", core, &runtimev1.TryLockRequest{StoreName: "nope", ResourceId: "r", ExpiryInSeconds: 1}, noOwner},
		{"unknown store", core, &runtimev1.TryLockRequest{StoreName: "nope", ResourceId: "r", LockOwner: "o", ExpiryInSeconds: 1}, notFound},
		{"separator in resource", core, &runtimev1.TryLockRequest{StoreName: "lockstore", ResourceId: "a||b", LockOwner: "o", ExpiryInSeconds: 1},
			want{"ERR_TRY_LOCK", 500, codes.Internal, "failed to try acquiring lock: input key/keyPrefix 'a||b' can't contain '||'"}},
		{"store failure", core, &runtimev1.TryLockRequest{StoreName: "broken", ResourceId: "r", LockOwner: "o", ExpiryInSeconds: 1},
			want{"ERR_TRY_LOCK", 500, codes.Internal, "failed to try acquiring lock: backend down"}},
	}
	for _, tt := range tryTests {
		t.Run("trylock "+tt.name, func(t *testing.T) {
			_, err := tt.core.TryLock(ctx, tt.req)
			checkLockErr(t, err, tt.want.code, tt.want.status, tt.want.grpc, tt.want.msg)
		})
	}
	unlockTests := []struct {
		name string
		core *api.Core
		req  *runtimev1.UnlockRequest
		want want
	}{
		{"no lock stores", none, &runtimev1.UnlockRequest{StoreName: "nope"}, notConfigured},
		{"resource before store", core, &runtimev1.UnlockRequest{StoreName: "nope", LockOwner: "o"}, noResource},
		{"owner before store", core, &runtimev1.UnlockRequest{StoreName: "nope", ResourceId: "r"}, noOwner},
		{"unknown store", core, &runtimev1.UnlockRequest{StoreName: "nope", ResourceId: "r", LockOwner: "o"}, notFound},
		{"separator in resource", core, &runtimev1.UnlockRequest{StoreName: "lockstore", ResourceId: "||", LockOwner: "o"},
			want{"ERR_UNLOCK", 500, codes.Internal, "failed to release lock: input key/keyPrefix '||' can't contain '||'"}},
		{"store failure", core, &runtimev1.UnlockRequest{StoreName: "broken", ResourceId: "r", LockOwner: "o"},
			want{"ERR_UNLOCK", 500, codes.Internal, "failed to release lock: backend down"}},
	}
	for _, tt := range unlockTests {
		t.Run("unlock "+tt.name, func(t *testing.T) {
			_, err := tt.core.Unlock(ctx, tt.req)
			checkLockErr(t, err, tt.want.code, tt.want.status, tt.want.grpc, tt.want.msg)
		})
	}
	// None of the refused requests reached the store.
	if len(rec.keys) != 0 {
		t.Fatalf("store was called with %q", rec.keys)
	}
}

func checkLockErr(t *testing.T, err error, code string, status int, grpc codes.Code, msg string) {
	t.Helper()
	var e *apierr.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want an API error", err)
	}
	if e.Code != code || e.HTTPStatus != status || e.GRPCCode != grpc || e.Message != msg {
		t.Fatalf("got %s %d %v %q; want %s %d %v %q", e.Code, e.HTTPStatus, e.GRPCCode, e.Message, code, status, grpc, msg)
	}
}
