package state

import (
	"errors"
	"fmt"
	"strconv"
)

// ETagErrorKind distinguishes a stale ETag from one the store cannot parse;
// the API maps them to 409/Aborted and 400/InvalidArgument.
type ETagErrorKind int

const (
	ETagMismatch ETagErrorKind = iota + 1
	ETagInvalid
)

// ETagError is returned by stores when an ETag condition fails.
type ETagError struct {
	Kind ETagErrorKind
	Err  error
}

func (e *ETagError) Error() string {
	switch e.Kind {
	case ETagInvalid:
		if e.Err != nil {
			return "invalid etag value: " + e.Err.Error()
		}
		return "invalid etag value"
	default:
		if e.Err != nil {
			return "possible etag mismatch. error from state store: " + e.Err.Error()
		}
		return "possible etag mismatch. error from state store"
	}
}

func (e *ETagError) Unwrap() error { return e.Err }

// NewETagMismatch and NewETagInvalid build ETag errors with an optional cause.
func NewETagMismatch(cause error) error { return &ETagError{Kind: ETagMismatch, Err: cause} }
func NewETagInvalid(cause error) error  { return &ETagError{Kind: ETagInvalid, Err: cause} }

// AsETagError returns the ETag error inside err, if any.
func AsETagError(err error) (*ETagError, bool) {
	var e *ETagError
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// InvalidRequestError reports a request the store rejects as malformed (bad
// option value, bad TTL, bad query). The API maps it to a 400-class error.
type InvalidRequestError struct{ Msg string }

func (e *InvalidRequestError) Error() string { return e.Msg }

// ErrFirstWriteNoETag is not an error: a first-write request without an ETag
// must only succeed if the key does not exist. Stores signal the conflict
// with an ETag mismatch.

// ValidateOptions checks concurrency and consistency values as Dapr's stores
// do, so every store rejects the same inputs.
func ValidateOptions(o Options) error {
	switch o.Concurrency {
	case "", FirstWrite, LastWrite:
	default:
		return &InvalidRequestError{Msg: fmt.Sprintf("unrecognized concurrency model '%s'", o.Concurrency)}
	}
	switch o.Consistency {
	case "", Eventual, Strong:
	default:
		return &InvalidRequestError{Msg: fmt.Sprintf("unrecognized consistency model '%s'", o.Consistency)}
	}
	return nil
}

func parseInt(s string) (int64, error) {
	return strconv.ParseInt(s, 10, 64)
}
