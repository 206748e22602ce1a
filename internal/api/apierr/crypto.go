package apierr

import (
	"fmt"
	"net/http"

	"google.golang.org/grpc/codes"
)

// --- crypto (legacy errors: code and message, no details) ---

// CryptoProvidersNotConfigured is returned when no crypto component exists.
func CryptoProvidersNotConfigured() *Error {
	return legacy("ERR_CRYPTO_PROVIDERS_NOT_CONFIGURED", http.StatusInternalServerError, codes.Internal, "crypto providers not configured")
}

// CryptoProviderNotFound is returned for an unknown crypto component name.
func CryptoProviderNotFound(name string) *Error {
	return legacy("ERR_CRYPTO_PROVIDER_NOT_FOUND", http.StatusBadRequest, codes.InvalidArgument, "crypto provider "+name+" not found")
}

// CryptoKey is ERR_CRYPTO_KEY: a key could not be retrieved.
func CryptoKey(name string, err error) *Error {
	return legacy("ERR_CRYPTO_KEY", http.StatusInternalServerError, codes.Internal, fmt.Sprintf("failed to retrieve key %s: %v", name, err))
}

// Crypto is ERR_CRYPTO: an encryption or decryption failed.
func Crypto(err error) *Error {
	return legacy("ERR_CRYPTO", http.StatusInternalServerError, codes.Internal, "failed to perform operation: "+err.Error())
}
