package compat

import (
	"fmt"
	"sync"
	"testing"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/outrigger/outrigger/compat/harness"
)

// lockEnv is what a lock scenario gets: clients on two replicas of one app
// (two sidecars with the same app id, so the same lock keys) and on a
// sidecar of another app, all on the same backend.
type lockEnv struct {
	a, b  dapr.Client // replicas of one app
	other dapr.Client // another app id: its own lock keys
	// redisKey is the Redis key prefix of a and b's locks, lock||<appId>||
	// (resources.md §2), for lock.redis only.
	redisKey string
}

var lockScenarios = []struct {
	name string
	run  func(t *testing.T, e *lockEnv)
}{
	{"owner", goLockOwner},
	{"contention", goLockContention},
	{"expiry", goLockExpiry},
	{"errors", goLockErrors},
}

// TestGoSDKLock runs TryLockAlpha1/UnlockAlpha1 through the Go SDK against
// each lock store, with clients on different sidecars sharing the store.
func TestGoSDKLock(t *testing.T) {
	t.Parallel()
	for _, st := range lockStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			prefix := "lock-go-" + st.name + "-" + uniq(t)
			comp := st.setup(t, prefix)
			appID := prefix + "-app"
			start := func(id string) dapr.Client {
				return goClient(t, harness.Start(t, harness.Options{AppID: id, Components: []string{comp}}))
			}
			e := &lockEnv{a: start(appID), b: start(appID), other: start(prefix + "-other")}
			if st.name == "redis" {
				e.redisKey = "lock||" + appID + "||"
			}
			t.Run("metadata", func(t *testing.T) { wantComponent(t, e.a, lockStoreName, "lock."+st.name) })
			for _, s := range lockScenarios {
				t.Run(s.name, func(t *testing.T) { s.run(t, e) })
			}
		})
	}
}

func tryLock(t *testing.T, c dapr.Client, res, owner string, expiry int32) bool {
	t.Helper()
	r, err := c.TryLockAlpha1(callCtx(t), lockStoreName, &dapr.LockRequest{ResourceID: res, LockOwner: owner, ExpiryInSeconds: expiry})
	if err != nil {
		t.Fatalf("TryLockAlpha1(%s, %s): %v", res, owner, err)
	}
	return r.Success
}

// wantUnlock unlocks and checks the status name the SDK reports.
func wantUnlock(t *testing.T, c dapr.Client, res, owner, want string) {
	t.Helper()
	r, err := c.UnlockAlpha1(callCtx(t), lockStoreName, &dapr.UnlockRequest{ResourceID: res, LockOwner: owner})
	if err != nil {
		t.Fatalf("UnlockAlpha1(%s, %s): %v", res, owner, err)
	}
	if r.Status != want {
		t.Errorf("UnlockAlpha1(%s, %s) = %s (%d), want %s", res, owner, r.Status, r.StatusCode, want)
	}
}

func goLockOwner(t *testing.T, e *lockEnv) {
	res := "order-" + uniq(t)
	if !tryLock(t, e.a, res, "owner-a", 30) {
		t.Fatalf("TryLockAlpha1 of a free lock failed")
	}
	wantRedisLock(t, e, res, "owner-a")
	if tryLock(t, e.b, res, "owner-b", 30) {
		t.Errorf("TryLockAlpha1 by another replica's owner succeeded while the lock is held")
	}
	wantUnlock(t, e.b, res, "owner-b", "LOCK_BELONGS_TO_OTHERS")
	// Another app id locks the same resource name under its own key.
	if !tryLock(t, e.other, res, "owner-other", 30) {
		t.Errorf("TryLockAlpha1 by another app failed: lock keys are per app id (keyPrefix appid)")
	} else {
		wantUnlock(t, e.other, res, "owner-other", "SUCCESS")
	}
	wantUnlock(t, e.a, res, "owner-a", "SUCCESS")
	wantRedisLock(t, e, res, "")
	wantUnlock(t, e.a, res, "owner-a", "LOCK_DOES_NOT_EXIST")
	if !tryLock(t, e.b, res, "owner-b", 30) {
		t.Fatalf("TryLockAlpha1 after the unlock failed")
	}
	wantUnlock(t, e.b, res, "owner-b", "SUCCESS")
}

// wantRedisLock checks that lock.redis keeps a held lock where daprd does,
// as a key lock||<appId>||<resource> whose value is the owner, so that
// Dapr and Outrigger sidecars can share locks; owner "" = no key.
func wantRedisLock(t *testing.T, e *lockEnv, res, owner string) {
	t.Helper()
	if e.redisKey == "" {
		return
	}
	key := e.redisKey + res
	got := harness.MustRedis(t, redisAddr, "GET", key)
	if owner == "" && got != nil || owner != "" && got != owner {
		t.Errorf("Redis GET %s = %#v, want %q (\"\" = no key)", key, got, owner)
	}
}

// goLockContention races owners on both replicas for one lock: exactly one
// may win.
func goLockContention(t *testing.T, e *lockEnv) {
	res := "race-" + uniq(t)
	const perClient = 4
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []string
		errs    []error
	)
	start := make(chan struct{})
	for i, c := range []dapr.Client{e.a, e.b} {
		for j := range perClient {
			owner := fmt.Sprintf("owner-%d-%d", i, j)
			wg.Go(func() {
				<-start
				r, err := c.TryLockAlpha1(callCtx(t), lockStoreName, &dapr.LockRequest{ResourceID: res, LockOwner: owner, ExpiryInSeconds: 30})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				} else if r.Success {
					winners = append(winners, owner)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("TryLockAlpha1 errors under contention: %v", errs)
	}
	if len(winners) != 1 {
		t.Fatalf("owners that got the lock: %v, want exactly one", winners)
	}
	wantUnlock(t, e.a, res, winners[0], "SUCCESS")
}

// goLockExpiry takes a lock for one second: another owner gets it once it
// has expired, and the first owner no longer owns it.
func goLockExpiry(t *testing.T, e *lockEnv) {
	res := "expiring-" + uniq(t)
	taken := time.Now()
	if !tryLock(t, e.a, res, "owner-a", 1) {
		t.Fatalf("TryLockAlpha1 of a free lock failed")
	}
	if tryLock(t, e.b, res, "owner-b", 10) {
		t.Fatalf("TryLockAlpha1 by another owner succeeded right after the lock was taken")
	}
	for !tryLock(t, e.b, res, "owner-b", 10) {
		if time.Since(taken) > 3*time.Second {
			t.Fatalf("a lock taken for 1s is still held after %s", time.Since(taken))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if d := time.Since(taken); d < 900*time.Millisecond {
		t.Errorf("a lock taken for 1s was free again after %s", d)
	}
	wantUnlock(t, e.a, res, "owner-a", "LOCK_BELONGS_TO_OTHERS")
	wantUnlock(t, e.b, res, "owner-b", "SUCCESS")
}

func goLockErrors(t *testing.T, e *lockEnv) {
	res := "invalid-" + uniq(t)
	locks := []struct {
		name  string
		store string
		req   dapr.LockRequest
	}{
		{"zero expiry", lockStoreName, dapr.LockRequest{ResourceID: res, LockOwner: "o", ExpiryInSeconds: 0}},
		{"negative expiry", lockStoreName, dapr.LockRequest{ResourceID: res, LockOwner: "o", ExpiryInSeconds: -1}},
		{"empty resource", lockStoreName, dapr.LockRequest{LockOwner: "o", ExpiryInSeconds: 10}},
		{"empty owner", lockStoreName, dapr.LockRequest{ResourceID: res, ExpiryInSeconds: 10}},
		{"unknown store", "no-such-store", dapr.LockRequest{ResourceID: res, LockOwner: "o", ExpiryInSeconds: 10}},
	}
	for _, tc := range locks {
		r, err := e.a.TryLockAlpha1(callCtx(t), tc.store, &tc.req)
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("TryLockAlpha1 with %s = %+v, %v; want code %v", tc.name, r, err, codes.InvalidArgument)
		}
	}
	unlocks := []struct {
		name  string
		store string
		req   dapr.UnlockRequest
	}{
		{"empty resource", lockStoreName, dapr.UnlockRequest{LockOwner: "o"}},
		{"empty owner", lockStoreName, dapr.UnlockRequest{ResourceID: res}},
		{"unknown store", "no-such-store", dapr.UnlockRequest{ResourceID: res, LockOwner: "o"}},
	}
	for _, tc := range unlocks {
		r, err := e.a.UnlockAlpha1(callCtx(t), tc.store, &tc.req)
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("UnlockAlpha1 with %s = %+v, %v; want code %v", tc.name, r, err, codes.InvalidArgument)
		}
	}
}
