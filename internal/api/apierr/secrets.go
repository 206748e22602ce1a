package apierr

import (
	"fmt"
	"net/http"

	"google.golang.org/grpc/codes"
)

// SecretStoresNotConfigured is ERR_SECRET_STORES_NOT_CONFIGURED: the
// sidecar has no secret store at all.
func SecretStoresNotConfigured() *Error {
	return legacy("ERR_SECRET_STORES_NOT_CONFIGURED", http.StatusInternalServerError, codes.FailedPrecondition, "secret store is not configured")
}

// SecretStoreNotFound is ERR_SECRET_STORE_NOT_FOUND. Dapr answers 401 over
// HTTP here, not 400; we keep that for compatibility.
func SecretStoreNotFound(store string) *Error {
	return legacy("ERR_SECRET_STORE_NOT_FOUND", http.StatusUnauthorized, codes.InvalidArgument, "failed finding secret store with key "+store)
}

// SecretPermissionDenied is ERR_PERMISSION_DENIED: Configuration secret
// scopes forbid reading key from store.
func SecretPermissionDenied(key, store string) *Error {
	return legacy("ERR_PERMISSION_DENIED", http.StatusForbidden, codes.PermissionDenied,
		fmt.Sprintf("access denied by policy to get %q from %q", key, store))
}

// SecretGet is ERR_SECRET_GET for one secret.
func SecretGet(key, store string, err error) *Error {
	return legacy("ERR_SECRET_GET", http.StatusInternalServerError, codes.Internal,
		fmt.Sprintf("failed getting secret with key %s from secret store %s: %s", key, store, err))
}

// SecretBulkGet is ERR_SECRET_GET for a bulk read.
func SecretBulkGet(store string, err error) *Error {
	return legacy("ERR_SECRET_GET", http.StatusInternalServerError, codes.Internal,
		fmt.Sprintf("failed getting secrets from secret store %s: %s", store, err))
}
