package api

import (
	"context"
	"fmt"
	"strings"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/lock"
	"github.com/outrigger/outrigger/internal/resiliency"
)

// TryLock takes a lock for an owner (alpha1 API). Checks run in Dapr's
// order: expiry, then lock stores configured, resource id, owner, store.
func (c *Core) TryLock(ctx context.Context, req *runtimev1.TryLockRequest) (*runtimev1.TryLockResponse, error) {
	if req.GetExpiryInSeconds() <= 0 {
		return nil, apierr.LockExpiryNotPositive(req.GetStoreName())
	}
	l, err := c.lockStore(req.GetStoreName(), req.GetResourceId(), req.GetLockOwner())
	if err != nil {
		return nil, err
	}
	key, err := lockKey(l, req.GetResourceId())
	if err != nil {
		return nil, apierr.TryLock(err)
	}
	var ok bool
	err = c.outbound(l.Name, resiliency.Lock).Run(ctx, func(ctx context.Context) (err error) {
		ok, err = l.Store.TryLock(ctx, key, req.GetLockOwner(), req.GetExpiryInSeconds())
		return err
	})
	if err != nil {
		return nil, apierr.TryLock(err)
	}
	return &runtimev1.TryLockResponse{Success: ok}, nil
}

// Unlock releases a lock held by the owner; not holding it is a status in
// the response, not an error.
func (c *Core) Unlock(ctx context.Context, req *runtimev1.UnlockRequest) (*runtimev1.UnlockResponse, error) {
	l, err := c.lockStore(req.GetStoreName(), req.GetResourceId(), req.GetLockOwner())
	if err != nil {
		return nil, err
	}
	key, err := lockKey(l, req.GetResourceId())
	if err != nil {
		return nil, apierr.Unlock(err)
	}
	var st lock.UnlockStatus
	err = c.outbound(l.Name, resiliency.Lock).Run(ctx, func(ctx context.Context) (err error) {
		st, err = l.Store.Unlock(ctx, key, req.GetLockOwner())
		return err
	})
	if err != nil {
		return nil, apierr.Unlock(err)
	}
	return &runtimev1.UnlockResponse{Status: runtimev1.UnlockResponse_Status(st)}, nil
}

// lockStore validates the common fields and finds the store.
func (c *Core) lockStore(name, resourceID, owner string) (*lock.Component, error) {
	locks := c.comps().locks
	if len(locks) == 0 {
		return nil, apierr.LockStoresNotConfigured()
	}
	if resourceID == "" {
		return nil, apierr.LockResourceIDEmpty(name)
	}
	if owner == "" {
		return nil, apierr.LockOwnerEmpty(name)
	}
	l, ok := locks[name]
	if !ok {
		return nil, apierr.LockStoreNotFound(name)
	}
	return l, nil
}

// lockKey builds the stored key. A resource id containing the separator
// would make keys ambiguous, so Dapr refuses it (as a lock failure).
func lockKey(l *lock.Component, resourceID string) (string, error) {
	if strings.Contains(resourceID, "||") {
		return "", fmt.Errorf("input key/keyPrefix '%s' can't contain '||'", resourceID)
	}
	return l.Key(resourceID), nil
}
