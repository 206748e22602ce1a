package apierr

import (
	"net/http"

	"google.golang.org/grpc/codes"
)

// --- lock (legacy errors: code and message, no details) ---

// LockStoresNotConfigured is returned when no lock store exists at all.
func LockStoresNotConfigured() *Error {
	return legacy("ERR_LOCK_STORE_NOT_CONFIGURED", http.StatusInternalServerError, codes.FailedPrecondition, "lock store is not configured")
}

// LockStoreNotFound is returned for an unknown lock store name.
func LockStoreNotFound(store string) *Error {
	return legacy("ERR_LOCK_STORE_NOT_FOUND", http.StatusBadRequest, codes.InvalidArgument, "lock store "+store+" not found")
}

// LockResourceIDEmpty is returned for a request without a resource id.
func LockResourceIDEmpty(store string) *Error {
	return MalformedMsg("ResourceId is empty in lock store " + store)
}

// LockOwnerEmpty is returned for a request without a lock owner.
func LockOwnerEmpty(store string) *Error {
	return MalformedMsg("LockOwner is empty in lock store " + store)
}

// LockExpiryNotPositive is returned by try-lock for expiryInSeconds <= 0.
func LockExpiryNotPositive(store string) *Error {
	return MalformedMsg("ExpiryInSeconds is not positive in lock store " + store)
}

// TryLock is ERR_TRY_LOCK.
func TryLock(err error) *Error {
	return legacy("ERR_TRY_LOCK", http.StatusInternalServerError, codes.Internal, "failed to try acquiring lock: "+err.Error())
}

// Unlock is ERR_UNLOCK.
func Unlock(err error) *Error {
	return legacy("ERR_UNLOCK", http.StatusInternalServerError, codes.Internal, "failed to release lock: "+err.Error())
}
