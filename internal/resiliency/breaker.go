package resiliency

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/sony/gobreaker/v2"

	"github.com/outrigger/outrigger/internal/resources"
)

// The errors a breaker answers instead of running the operation (the
// messages are gobreaker's, as in Dapr).
var (
	ErrCircuitOpen     = gobreaker.ErrOpenState
	ErrTooManyRequests = gobreaker.ErrTooManyRequests
)

// breakerSpec is one named circuit breaker policy: a template from which
// one breaker per target is made.
type breakerSpec struct {
	name        string
	maxRequests uint32
	interval    time.Duration
	timeout     time.Duration
	trip        cel.Program // nil = gobreaker's default, consecutiveFailures > 5
}

func newBreakerSpec(env *cel.Env, name string, p resources.CircuitBreakerPolicy) (*breakerSpec, error) {
	s := &breakerSpec{name: name, maxRequests: uint32(max(p.MaxRequests, 0))}
	var err error
	if s.interval, err = p.Interval.Parse(); err != nil {
		return nil, fmt.Errorf("interval: %w", err)
	}
	if s.timeout, err = p.Timeout.Parse(); err != nil {
		return nil, fmt.Errorf("timeout: %w", err)
	}
	if p.Trip != "" {
		if s.trip, err = compileTrip(env, p.Trip); err != nil {
			return nil, fmt.Errorf("trip: %w", err)
		}
	}
	return s, nil
}

// newTripEnv declares the counters a trip expression may use.
func newTripEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("requests", cel.IntType),
		cel.Variable("totalSuccesses", cel.IntType),
		cel.Variable("totalFailures", cel.IntType),
		cel.Variable("consecutiveSuccesses", cel.IntType),
		cel.Variable("consecutiveFailures", cel.IntType),
	)
}

func compileTrip(env *cel.Env, expr string) (cel.Program, error) {
	ast, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("%q: %w", expr, iss.Err())
	}
	if ast.OutputType() != cel.BoolType {
		return nil, fmt.Errorf("%q must be a boolean expression", expr)
	}
	return env.Program(ast)
}

// breaker is one live circuit breaker.
type breaker struct {
	cb *gobreaker.CircuitBreaker[struct{}]
}

// newBreaker makes a breaker for one target. State changes are logged and
// reported to the observer.
func (s *breakerSpec) newBreaker(t Target, log *slog.Logger, obs Observer) *breaker {
	st := gobreaker.Settings{
		Name:        s.name + "/" + string(t.Type) + "/" + t.Name,
		MaxRequests: s.maxRequests,
		Interval:    s.interval,
		Timeout:     s.timeout,
		OnStateChange: func(name string, from, to gobreaker.State) {
			log.Info("circuit breaker changed state", "breaker", name, "from", from.String(), "to", to.String())
			if obs != nil {
				obs.CircuitBreakerState(t, to.String())
			}
		},
	}
	if s.trip != nil {
		st.ReadyToTrip = tripFunc(s.trip, log)
	}
	return &breaker{cb: gobreaker.NewCircuitBreaker[struct{}](st)}
}

// tripFunc evaluates the trip expression on a failure in the closed state.
// An evaluation error never trips: opening on an unknown condition would
// cut traffic for no known reason.
func tripFunc(prg cel.Program, log *slog.Logger) func(gobreaker.Counts) bool {
	return func(c gobreaker.Counts) bool {
		out, _, err := prg.Eval(map[string]any{
			"requests":             int64(c.Requests),
			"totalSuccesses":       int64(c.TotalSuccesses),
			"totalFailures":        int64(c.TotalFailures),
			"consecutiveSuccesses": int64(c.ConsecutiveSuccesses),
			"consecutiveFailures":  int64(c.ConsecutiveFailures),
		})
		if err != nil {
			log.Warn("circuit breaker trip expression failed", "error", err)
			return false
		}
		tripped, ok := out.Value().(bool)
		return ok && tripped
	}
}

// execute runs fn through the breaker.
func (b *breaker) execute(fn func() error) error {
	_, err := b.cb.Execute(func() (struct{}, error) { return struct{}{}, fn() })
	return err
}

// state is "closed", "half-open" or "open".
func (b *breaker) state() string { return b.cb.State().String() }

// isBreakerRejection reports whether err is a breaker refusing a call.
func isBreakerRejection(err error) bool {
	return errors.Is(err, ErrCircuitOpen) || errors.Is(err, ErrTooManyRequests)
}
