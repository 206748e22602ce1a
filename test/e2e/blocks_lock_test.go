package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// blkLockStore is one lock store the lock tests run against: its
// component metadata, and a clean-up of what a run leaves behind.
type blkLockStore struct {
	typ   string
	setup func(t *testing.T) map[string]string
}

var blkLockStores = map[string]blkLockStore{
	"sqlite": {typ: "lock.sqlite", setup: func(t *testing.T) map[string]string {
		return map[string]string{"connectionString": filepath.Join(t.TempDir(), "locks.db")}
	}},
	"redis": {typ: "lock.redis", setup: func(t *testing.T) map[string]string {
		blkRedis(t)
		return map[string]string{"redisHost": blkRedisAddr}
	}},
}

// blkLockEnv is three sidecars of one app id (replicas of one app) that
// share one lock store named "locks", and a resource name unique to the
// test.
type blkLockEnv struct {
	sidecars []*sidecar
	resource string
}

func newBlkLockEnv(t *testing.T, st blkLockStore) *blkLockEnv {
	t.Helper()
	meta := st.setup(t)
	appID := blkUnique("lockapp")
	dir := blkResources(t, blkComponent("locks", st.typ, meta))
	specs := make([]blkSidecar, 3)
	for i := range specs {
		specs[i] = blkSidecar{appID: appID, resources: dir}
	}
	e := &blkLockEnv{sidecars: blkStart(t, specs...), resource: blkUnique("res")}
	if st.typ == "lock.redis" {
		// The default keyPrefix (appid) names the key; it is gone after
		// a clean run, this is for a failed one.
		rdb := blkRedis(t)
		t.Cleanup(func() { rdb.Del(context.Background(), "lock||"+appID+"||"+e.resource) })
	}
	return e
}

// tryLock calls the lock API of sidecar i; a status other than 200 is an
// error.
func (e *blkLockEnv) tryLock(ctx context.Context, i int, owner string, expiry int) (bool, error) {
	body := fmt.Sprintf(`{"resourceId":%q,"lockOwner":%q,"expiryInSeconds":%d}`, e.resource, owner, expiry)
	r, err := blkDo(ctx, "POST", e.sidecars[i].url("/v1.0-alpha1/lock/locks"), body)
	if err != nil {
		return false, err
	}
	var out struct {
		Success *bool `json:"success"`
	}
	if r.status != 200 || json.Unmarshal(r.body, &out) != nil || out.Success == nil {
		return false, fmt.Errorf("lock: status %d, body %s", r.status, r.body)
	}
	return *out.Success, nil
}

// unlock calls the unlock API of sidecar i and returns the status number.
func (e *blkLockEnv) unlock(ctx context.Context, i int, owner string) (int, error) {
	body := fmt.Sprintf(`{"resourceId":%q,"lockOwner":%q}`, e.resource, owner)
	r, err := blkDo(ctx, "POST", e.sidecars[i].url("/v1.0-alpha1/unlock/locks"), body)
	if err != nil {
		return -1, err
	}
	// protojson omits a zero enum; "status" is always emitted by Dapr,
	// so its absence is reported rather than read as SUCCESS.
	var out struct {
		Status *int `json:"status"`
	}
	if r.status != 200 || json.Unmarshal(r.body, &out) != nil || out.Status == nil {
		return -1, fmt.Errorf("unlock: status %d, body %s", r.status, r.body)
	}
	return *out.Status, nil
}

func TestBlocksLock(t *testing.T) {
	for _, name := range []string{"sqlite", "redis"} {
		t.Run(name, func(t *testing.T) {
			e := newBlkLockEnv(t, blkLockStores[name])
			t.Run("contention", func(t *testing.T) { blkLockContention(t, e) })
			t.Run("owners", func(t *testing.T) { blkLockOwners(t, e) })
			t.Run("expiry", func(t *testing.T) { blkLockExpiry(t, e) })
			t.Run("errors", func(t *testing.T) { blkLockErrors(t, e) })
		})
	}
}

// blkLockContention runs 8 clients spread over the three sidecars, each
// looping try-lock / critical section / unlock for 2 s. The holders count
// is raised inside the critical section only, so it must never pass 1.
func blkLockContention(t *testing.T, e *blkLockEnv) {
	const clients = 8
	ctx := context.Background()
	deadline := time.Now().Add(2 * time.Second)
	var holders, maxHolders, acquired, refused atomic.Int64
	perClient := make([]int64, clients)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc, owner := c%len(e.sidecars), fmt.Sprintf("client-%d", c)
			for time.Now().Before(deadline) {
				ok, err := e.tryLock(ctx, sc, owner, 5)
				if err != nil {
					t.Errorf("client %d: %v", c, err)
					return
				}
				if !ok {
					refused.Add(1)
					continue
				}
				n := holders.Add(1)
				blkStoreMax(&maxHolders, n)
				time.Sleep(time.Millisecond) // the critical section
				// Leave the section before the lock is released, or the
				// next holder could enter while this one is still counted.
				holders.Add(-1)
				acquired.Add(1)
				perClient[c]++
				if st, err := e.unlock(ctx, sc, owner); err != nil || st != 0 {
					t.Errorf("client %d: unlock = %d, %v; want status 0", c, st, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("acquired %d, refused %d, per client %v", acquired.Load(), refused.Load(), perClient)
	if m := maxHolders.Load(); m > 1 {
		t.Errorf("%d clients held the lock at once", m)
	}
	if acquired.Load() < 10 {
		t.Errorf("only %d acquisitions in 2 s", acquired.Load())
	}
	if refused.Load() == 0 {
		t.Error("no attempt was ever refused: the clients did not contend")
	}
	winners := 0
	for _, n := range perClient {
		if n > 0 {
			winners++
		}
	}
	if winners < 2 {
		t.Errorf("only %d client(s) ever got the lock", winners)
	}
}

// blkStoreMax raises m to n if n is larger.
func blkStoreMax(m *atomic.Int64, n int64) {
	for {
		cur := m.Load()
		if n <= cur || m.CompareAndSwap(cur, n) {
			return
		}
	}
}

// blkLockOwners checks unlock results: another owner (through another
// sidecar) gets LOCK_BELONGS_TO_OTHERS, the owner SUCCESS, then
// LOCK_DOES_NOT_EXIST.
func blkLockOwners(t *testing.T, e *blkLockEnv) {
	ctx := context.Background()
	if ok, err := e.tryLock(ctx, 0, "alice", 10); err != nil || !ok {
		t.Fatalf("alice's lock = %v, %v", ok, err)
	}
	if ok, err := e.tryLock(ctx, 1, "bob", 10); err != nil || ok {
		t.Fatalf("bob's lock while alice holds it = %v, %v; want false", ok, err)
	}
	steps := []struct {
		sidecar int
		owner   string
		want    int
	}{
		{1, "bob", 2},   // LOCK_BELONGS_TO_OTHERS
		{0, "alice", 0}, // SUCCESS
		{2, "alice", 1}, // LOCK_DOES_NOT_EXIST
	}
	for _, s := range steps {
		if st, err := e.unlock(ctx, s.sidecar, s.owner); err != nil || st != s.want {
			t.Errorf("unlock by %s via sidecar %d = %d, %v; want %d", s.owner, s.sidecar, st, err, s.want)
		}
	}
}

// blkLockExpiry takes a lock for one second and never releases it:
// another owner must get it once the second has passed.
func blkLockExpiry(t *testing.T, e *blkLockEnv) {
	ctx := context.Background()
	if ok, err := e.tryLock(ctx, 0, "short", 1); err != nil || !ok {
		t.Fatalf("lock with expiry 1 = %v, %v", ok, err)
	}
	t0 := time.Now()
	var took time.Duration
	for took == 0 && time.Since(t0) < 4*time.Second {
		ok, err := e.tryLock(ctx, 2, "next", 5)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			took = time.Since(t0)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	switch {
	case took == 0:
		t.Fatal("the lock was not released within 4 s of a 1 s expiry")
	case took < 700*time.Millisecond:
		t.Errorf("another owner got the lock after %v, before the 1 s expiry", took)
	}
	t.Logf("lock passed to another owner %v after it was taken with expiry 1", took)
	if st, err := e.unlock(ctx, 2, "next"); err != nil || st != 0 {
		t.Errorf("unlock = %d, %v", st, err)
	}
}

func blkLockErrors(t *testing.T, e *blkLockEnv) {
	s := e.sidecars[0]
	tests := []struct {
		name, path, body, code string
		parts                  []string
	}{
		{"expiry 0", "/v1.0-alpha1/lock/locks", `{"resourceId":"r","lockOwner":"o","expiryInSeconds":0}`,
			"ERR_MALFORMED_REQUEST", []string{"ExpiryInSeconds is not positive in lock store locks"}},
		{"negative expiry", "/v1.0-alpha1/lock/locks", `{"resourceId":"r","lockOwner":"o","expiryInSeconds":-3}`,
			"ERR_MALFORMED_REQUEST", []string{"ExpiryInSeconds is not positive"}},
		{"no owner", "/v1.0-alpha1/lock/locks", `{"resourceId":"r","expiryInSeconds":5}`,
			"ERR_MALFORMED_REQUEST", []string{"LockOwner is empty in lock store locks"}},
		{"unknown store lock", "/v1.0-alpha1/lock/nosuch", `{"resourceId":"r","lockOwner":"o","expiryInSeconds":5}`,
			"ERR_LOCK_STORE_NOT_FOUND", []string{"lock store nosuch not found"}},
		{"unknown store unlock", "/v1.0-alpha1/unlock/nosuch", `{"resourceId":"r","lockOwner":"o"}`,
			"ERR_LOCK_STORE_NOT_FOUND", []string{"nosuch"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blkWantError(t, blkCall(t, "POST", s.url(tt.path), tt.body), 400, tt.code, tt.parts...)
		})
	}
}
