// Package lock is the distributed lock building block (alpha1 API): the
// contract lock store components implement, and the implementations in
// subpackages.
package lock

import (
	"context"

	"github.com/outrigger/outrigger/internal/registry"
)

// Registry holds the lock store constructors linked into the binary.
var Registry = registry.New[Store]("lock")

// Metadata initialises a store: component name and its metadata.
type Metadata struct {
	Name       string
	Properties map[string]string
}

// UnlockStatus is Dapr's unlock result, with its wire numbers.
type UnlockStatus int32

const (
	UnlockSuccess             UnlockStatus = 0
	UnlockLockDoesNotExist    UnlockStatus = 1
	UnlockLockBelongsToOthers UnlockStatus = 2
	UnlockInternalError       UnlockStatus = 3
)

// Store grants exclusive, expiring locks. ResourceID is already prefixed by
// the key scheme (`lock||<prefix>||<resource>`). Under contention from any
// number of sidecars at most one owner holds a resource at a time.
type Store interface {
	Init(ctx context.Context, md Metadata) error
	// TryLock takes the lock for owner for expiry seconds; false when someone
	// else holds it (re-taking one's own unexpired lock is false too, as in
	// Dapr's Redis store).
	TryLock(ctx context.Context, resourceID, owner string, expiryInSeconds int32) (bool, error)
	Unlock(ctx context.Context, resourceID, owner string) (UnlockStatus, error)
	Close() error
}

// Component is a loaded lock store and its key prefix.
type Component struct {
	Name, Type, Version string
	Store               Store
	// Prefix is inserted between "lock||" and the resource id ("" for none).
	Prefix string
}

// Key returns the stored key for a resource.
func (c *Component) Key(resourceID string) string {
	if c.Prefix == "" {
		return "lock||" + resourceID
	}
	return "lock||" + c.Prefix + "||" + resourceID
}
