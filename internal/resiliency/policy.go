package resiliency

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/outrigger/outrigger/internal/sleep"
)

// Policy is the timeout, retry and circuit breaker that apply to one
// operation on one target. The zero Policy does nothing: Run just calls the
// operation, so callers never need to check whether a policy applies.
type Policy struct {
	target  Target
	timeout time.Duration
	retry   *retrySpec
	breaker *breaker
	env     *runEnv // shared: logger, observer, permanent-error hook
}

// runEnv is what every policy of one Provider shares.
type runEnv struct {
	log       *slog.Logger
	obs       Observer
	permanent func(error) bool
}

// IsZero reports whether the policy does nothing.
func (p Policy) IsZero() bool {
	return p.timeout <= 0 && p.retry == nil && p.breaker == nil
}

// HasRetries reports whether failed attempts may be retried.
func (p Policy) HasRetries() bool { return p.retry != nil && p.retry.maxRetries != 0 }

// Timeout is the per-attempt timeout; 0 means none.
func (p Policy) Timeout() time.Duration { return p.timeout }

// Target is what the policy protects.
func (p Policy) Target() Target { return p.target }

// WithoutRetries is p without its retry policy (for requests that cannot
// be replayed, such as streamed bodies).
func (p Policy) WithoutRetries() Policy {
	p.retry = nil
	return p
}

// NewBackoff returns the waits of p's retry policy, for callers that run
// their own retry loop; nil when p does not retry.
func (p Policy) NewBackoff() *Backoff {
	if p.retry == nil {
		return nil
	}
	return p.retry.newBackoff()
}

// Run calls op under the policy: each attempt gets the timeout (op's
// context ends when it passes); failed attempts are retried as the retry
// policy says, as long as the error is retriable; the circuit breaker
// counts every attempt and refuses them while open. Run returns op's
// last error, context.DeadlineExceeded when the timeout cut the last
// attempt, or ErrCircuitOpen/ErrTooManyRequests when the breaker refused
// it. Run returns only after op's last call has returned.
func (p Policy) Run(ctx context.Context, op func(ctx context.Context) error) error {
	if p.IsZero() {
		return unwrapPermanent(op(ctx))
	}
	_, err := p.run(ctx, op, false)
	return err
}

// RunKeep is Run for an operation whose result outlives it, such as a
// streamed response body: the context of the successful attempt stays
// live (within the timeout) until the caller calls release. release is
// never nil when err is nil.
func (p Policy) RunKeep(ctx context.Context, op func(ctx context.Context) error) (release func(), err error) {
	if p.IsZero() {
		return noRelease, unwrapPermanent(op(ctx))
	}
	return p.run(ctx, op, true)
}

func noRelease() {}

func (p Policy) run(ctx context.Context, op func(ctx context.Context) error, keep bool) (func(), error) {
	p.executed()
	var bo *Backoff
	for attempt := 0; ; attempt++ {
		release, err := p.attempt(ctx, op, keep)
		if err == nil {
			if attempt > 0 {
				p.debug(ctx, "operation recovered after retries", "retries", attempt)
			}
			return release, nil
		}
		if !p.retriable(ctx, err) {
			return nil, unwrapPermanent(err)
		}
		if bo == nil {
			bo = p.retry.newBackoff()
		}
		wait, ok := bo.Next()
		if !ok {
			p.debug(ctx, "retries exhausted", "retries", attempt, "error", err)
			return nil, err
		}
		p.activated(KindRetry)
		p.debug(ctx, "operation failed: retrying", "attempt", attempt+1, "wait", wait, "error", err)
		if !sleep.For(ctx, wait) {
			return nil, err
		}
	}
}

// attempt makes one call through the breaker and the timeout.
func (p Policy) attempt(ctx context.Context, op func(ctx context.Context) error, keep bool) (func(), error) {
	if p.breaker == nil {
		return p.timed(ctx, op, keep)
	}
	var release func()
	err := p.breaker.execute(func() error {
		var err error
		release, err = p.timed(ctx, op, keep)
		return err
	})
	if isBreakerRejection(err) {
		p.activated(KindCircuitBreaker)
		p.debug(ctx, "circuit breaker refused the call", "state", p.breaker.state())
	}
	return release, err
}

// timed runs op with the per-attempt timeout.
func (p Policy) timed(ctx context.Context, op func(ctx context.Context) error, keep bool) (func(), error) {
	if p.timeout <= 0 {
		return noRelease, op(ctx)
	}
	tctx, cancel := context.WithTimeout(ctx, p.timeout)
	err := op(tctx)
	if err == nil {
		if keep {
			return cancel, nil
		}
		cancel()
		return noRelease, nil
	}
	cancel()
	if ctx.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded) {
		p.activated(KindTimeout)
		p.debug(ctx, "operation timed out", "timeout", p.timeout, "error", err)
		return nil, context.DeadlineExceeded
	}
	return nil, err
}

// retriable decides whether a failed attempt is worth another one.
func (p Policy) retriable(ctx context.Context, err error) bool {
	if p.retry == nil || ctx.Err() != nil || isBreakerRejection(err) || isPermanent(err) {
		return false
	}
	if p.env != nil && p.env.permanent != nil && p.env.permanent(err) {
		return false
	}
	var c Coded
	if errors.As(err, &c) {
		return p.retry.matches(c.ResiliencyStatus())
	}
	return true
}

func (p Policy) executed() {
	if p.env == nil || p.env.obs == nil {
		return
	}
	if p.timeout > 0 {
		p.env.obs.PolicyExecuted(p.target, KindTimeout)
	}
	if p.retry != nil {
		p.env.obs.PolicyExecuted(p.target, KindRetry)
	}
	if p.breaker != nil {
		p.env.obs.PolicyExecuted(p.target, KindCircuitBreaker)
	}
}

func (p Policy) activated(k Kind) {
	if p.env != nil && p.env.obs != nil {
		p.env.obs.PolicyActivated(p.target, k)
	}
}

// debug logs a policy decision with the target, when debug logs are on.
func (p Policy) debug(ctx context.Context, msg string, args ...any) {
	if p.env == nil || !p.env.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	args = append(args, "target_type", string(p.target.Type), "target", p.target.Name)
	if p.target.Direction != "" {
		args = append(args, "direction", string(p.target.Direction))
	}
	p.env.log.DebugContext(ctx, "resiliency: "+msg, args...)
}
