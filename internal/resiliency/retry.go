package resiliency

import (
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/outrigger/outrigger/internal/resources"
)

// Dapr's retry defaults (dapr/kit retry.DefaultConfig).
const (
	defaultRetryDuration   = 5 * time.Second
	defaultMaxInterval     = backoff.DefaultMaxInterval // 60s
	defaultMaxElapsedTime  = 15 * time.Minute           // exponential only
	defaultInitialInterval = backoff.DefaultInitialInterval
	defaultMultiplier      = backoff.DefaultMultiplier
	defaultJitter          = backoff.DefaultRandomizationFactor
)

// retrySpec is one named retry policy, ready to use.
type retrySpec struct {
	name        string
	exponential bool
	interval    time.Duration // constant
	initial     time.Duration // exponential
	maxInterval time.Duration
	maxElapsed  time.Duration // 0 = no limit
	maxRetries  int           // -1 = forever
	// httpCodes and grpcCodes limit retries to coded errors in these
	// ranges; nil retries every coded error of that family.
	httpCodes [][2]int
	grpcCodes [][2]int
}

func newRetrySpec(name string, p resources.RetryPolicy) (*retrySpec, error) {
	r := &retrySpec{
		name:       name,
		initial:    defaultInitialInterval,
		maxRetries: -1,
	}
	switch p.Policy {
	case "", "constant":
	case "exponential":
		r.exponential = true
		r.maxElapsed = defaultMaxElapsedTime
	default:
		return nil, fmt.Errorf("policy %q is not valid (want constant or exponential)", p.Policy)
	}
	var err error
	if r.interval, err = durationOr(p.Duration, defaultRetryDuration); err != nil {
		return nil, fmt.Errorf("duration: %w", err)
	}
	if r.maxInterval, err = durationOr(p.MaxInterval, defaultMaxInterval); err != nil {
		return nil, fmt.Errorf("maxInterval: %w", err)
	}
	if p.MaxRetries != nil {
		r.maxRetries = max(*p.MaxRetries, -1)
	}
	if m := p.Matching; m != nil {
		if r.httpCodes, err = parseCodes(m.HTTPStatusCodes, 100, 599); err != nil {
			return nil, fmt.Errorf("matching.httpStatusCodes: %w", err)
		}
		if r.grpcCodes, err = parseCodes(m.GRPCStatusCodes, 0, 16); err != nil {
			return nil, fmt.Errorf("matching.gRPCStatusCodes: %w", err)
		}
	}
	return r, nil
}

// parseCodes parses a code list; an empty list is nil (match all).
func parseCodes(s string, lo, hi int) ([][2]int, error) {
	codes, err := resources.ParseStatusCodes(s, lo, hi)
	if len(codes) == 0 {
		return nil, err
	}
	return codes, err
}

// durationOr parses d, or returns def when d is not set.
func durationOr(d resources.Duration, def time.Duration) (time.Duration, error) {
	if d == "" {
		return def, nil
	}
	return d.Parse()
}

// matches reports whether a coded error may be retried.
func (r *retrySpec) matches(code int, grpc bool) bool {
	ranges := r.httpCodes
	if grpc {
		ranges = r.grpcCodes
	}
	if ranges == nil {
		return true
	}
	for _, rg := range ranges {
		if code >= rg[0] && code <= rg[1] {
			return true
		}
	}
	return false
}

// Backoff yields the waits between the attempts of one operation. It is
// not safe for concurrent use. A nil *Backoff never retries.
type Backoff struct {
	spec  *retrySpec
	exp   backoff.ExponentialBackOff
	start time.Time
	done  int // retries handed out
}

func (r *retrySpec) newBackoff() *Backoff {
	b := &Backoff{spec: r, start: time.Now()}
	if r.exponential {
		b.exp = backoff.ExponentialBackOff{
			InitialInterval:     r.initial,
			RandomizationFactor: defaultJitter,
			Multiplier:          defaultMultiplier,
			MaxInterval:         r.maxInterval,
		}
		b.exp.Reset()
	}
	return b
}

// ConstantBackoff retries retries times, wait apart (daprd's built-in
// service retries when they are not overridden).
func ConstantBackoff(wait time.Duration, retries int) *Backoff {
	return (&retrySpec{name: "constant", interval: wait, maxRetries: retries}).newBackoff()
}

// Next returns the wait before the next retry, or false when the policy
// gives up (maxRetries reached, or the exponential policy's elapsed-time
// limit would be passed).
func (b *Backoff) Next() (time.Duration, bool) {
	if b == nil {
		return 0, false
	}
	s := b.spec
	if s.maxRetries >= 0 && b.done >= s.maxRetries {
		return 0, false
	}
	wait := s.interval
	if s.exponential {
		wait = b.exp.NextBackOff()
		if s.maxElapsed > 0 && time.Since(b.start)+wait > s.maxElapsed {
			return 0, false
		}
	}
	b.done++
	return wait, true
}

// StatusError is a call that completed with a failure status: an HTTP
// status for HTTP calls, a gRPC code for gRPC calls. Retry policies with
// `matching` retry only the listed codes.
type StatusError struct {
	Code int
	GRPC bool
	Err  error
}

// HTTPStatusError marks err as an HTTP answer with code.
func HTTPStatusError(code int, err error) *StatusError {
	return &StatusError{Code: code, Err: err}
}

// GRPCStatusError marks err as a gRPC answer with code.
func GRPCStatusError(code int, err error) *StatusError {
	return &StatusError{Code: code, GRPC: true, Err: err}
}

func (e *StatusError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	if e.GRPC {
		return fmt.Sprintf("call failed with gRPC code %d", e.Code)
	}
	return fmt.Sprintf("call failed with HTTP status %d", e.Code)
}

func (e *StatusError) Unwrap() error { return e.Err }

// ResiliencyStatus implements Coded.
func (e *StatusError) ResiliencyStatus() (code int, grpc bool) { return e.Code, e.GRPC }

// Coded is an error that carries the status of a failed call, so retry
// matching can apply. Packages that must not import this one (the pub/sub
// delivery engine, for instance) implement it on their own error types.
type Coded interface {
	ResiliencyStatus() (code int, grpc bool)
}

// permanentError stops retries.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying; Run returns it unwrapped.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// unwrapPermanent removes the Permanent marker, if any, at the top.
func unwrapPermanent(err error) error {
	if p, ok := err.(*permanentError); ok {
		return p.err
	}
	return err
}

// isPermanent reports whether err is marked Permanent anywhere in its chain.
func isPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}
