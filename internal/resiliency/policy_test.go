package resiliency

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/resources"
)

var errBoom = errors.New("boom")

// appPolicy builds a provider where apps.app uses the given policies.
func appPolicy(t *testing.T, obs Observer, pol resources.Policies, names resources.EndpointPolicyNames) Policy {
	t.Helper()
	p := newProvider(t, obs, res("r", pol, resources.Targets{Apps: map[string]resources.EndpointPolicyNames{"app": names}}))
	return p.EndpointPolicy("app")
}

func retryPolicy(t *testing.T, rp resources.RetryPolicy) Policy {
	return appPolicy(t, nil, resources.Policies{Retries: map[string]resources.RetryPolicy{"r": rp}}, resources.EndpointPolicyNames{Retry: "r"})
}

func TestZeroPolicyAndNilProvider(t *testing.T) {
	var p *Provider
	calls := 0
	err := p.ComponentOutbound("s", Statestore).Run(context.Background(), func(context.Context) error {
		calls++
		return Permanent(errBoom)
	})
	if calls != 1 || err != errBoom {
		t.Fatalf("calls=%d err=%v, want one call and the unwrapped error", calls, err)
	}
	release, err := p.EndpointPolicy("x").RunKeep(context.Background(), func(context.Context) error { return nil })
	if err != nil || release == nil {
		t.Fatalf("RunKeep: release nil=%t, err %v", release == nil, err)
	}
	release()
}

func TestRetry(t *testing.T) {
	tests := []struct {
		name      string
		policy    resources.RetryPolicy
		failures  int
		wantCalls int
		wantErr   bool
	}{
		{"constant recovers", resources.RetryPolicy{Duration: "1ms", MaxRetries: intp(3)}, 2, 3, false},
		{"maxRetries reached", resources.RetryPolicy{Duration: "1ms", MaxRetries: intp(2)}, 5, 3, true},
		{"maxRetries 0 never retries", resources.RetryPolicy{Duration: "1ms", MaxRetries: intp(0)}, 5, 1, true},
		{"forever until success", resources.RetryPolicy{Duration: "1ms"}, 20, 21, false},
		{"exponential", resources.RetryPolicy{Policy: "exponential", MaxInterval: "2ms", MaxRetries: intp(4)}, 3, 4, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &flaky{n: tt.failures, err: errBoom}
			pol := retryPolicy(t, tt.policy)
			err := pol.Run(context.Background(), func(context.Context) error { return f.call() })
			if f.count() != tt.wantCalls {
				t.Errorf("calls = %d, want %d", f.count(), tt.wantCalls)
			}
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, errBoom) {
				t.Errorf("err = %v, want the operation's last error", err)
			}
		})
	}
}

func TestBackoffIntervals(t *testing.T) {
	constant, err := newRetrySpec("c", resources.RetryPolicy{Duration: "250ms", MaxRetries: intp(2)})
	if err != nil {
		t.Fatal(err)
	}
	b := constant.newBackoff()
	for i := range 2 {
		if d, ok := b.Next(); !ok || d != 250*time.Millisecond {
			t.Fatalf("constant retry %d: %v %v", i, d, ok)
		}
	}
	if _, ok := b.Next(); ok {
		t.Fatal("constant: a third retry with maxRetries 2")
	}

	exp, err := newRetrySpec("e", resources.RetryPolicy{Policy: "exponential", MaxInterval: "2s"})
	if err != nil {
		t.Fatal(err)
	}
	if exp.maxRetries != -1 || exp.maxElapsed != 15*time.Minute {
		t.Fatalf("exponential defaults: %+v", exp)
	}
	b = exp.newBackoff()
	var waits []time.Duration
	for range 30 {
		d, ok := b.Next()
		if !ok {
			t.Fatal("exponential stopped early")
		}
		waits = append(waits, d)
	}
	// Initial 500ms ±50%; the interval is capped at maxInterval before the
	// ±50% jitter.
	if waits[0] < 250*time.Millisecond || waits[0] > 750*time.Millisecond {
		t.Errorf("first wait %v, want 500ms ±50%%", waits[0])
	}
	if last := waits[len(waits)-1]; last < time.Second || last > 3*time.Second {
		t.Errorf("late wait %v, want maxInterval 2s ±50%%", last)
	}

	// The elapsed-time limit stops an exponential policy.
	short := *exp
	short.maxElapsed = time.Millisecond
	b = short.newBackoff()
	if _, ok := b.Next(); ok {
		t.Error("a retry past maxElapsed")
	}
}

func TestRetryMatching(t *testing.T) {
	match := &resources.RetryMatching{HTTPStatusCodes: "429,500-599", GRPCStatusCodes: "4,14"}
	tests := []struct {
		name      string
		matching  *resources.RetryMatching
		err       error
		wantCalls int
	}{
		{"http 503 listed", match, HTTPStatusError(503, errBoom), 3},
		{"http 429 listed", match, HTTPStatusError(429, errBoom), 3},
		{"http 404 not listed", match, HTTPStatusError(404, errBoom), 1},
		{"grpc 14 listed", match, GRPCStatusError(14, errBoom), 3},
		{"grpc 5 not listed", match, GRPCStatusError(5, errBoom), 1},
		{"transport error always retried", match, errBoom, 3},
		{"no matching retries all codes", nil, HTTPStatusError(404, errBoom), 3},
		{"only http listed: grpc codes all retried", &resources.RetryMatching{HTTPStatusCodes: "500"}, GRPCStatusError(3, errBoom), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := retryPolicy(t, resources.RetryPolicy{Duration: "1ms", MaxRetries: intp(2), Matching: tt.matching})
			calls := 0
			err := pol.Run(context.Background(), func(context.Context) error {
				calls++
				return tt.err
			})
			if calls != tt.wantCalls {
				t.Errorf("calls = %d, want %d", calls, tt.wantCalls)
			}
			if !errors.Is(err, errBoom) {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func TestPermanentErrorsStopRetries(t *testing.T) {
	errStale := errors.New("etag mismatch")
	p, err := New([]resources.Resiliency{res("r", resources.Policies{
		Retries: map[string]resources.RetryPolicy{"DefaultRetryPolicy": {Duration: "1ms", MaxRetries: intp(5)}},
	}, resources.Targets{})}, Options{Logger: quietLog, Permanent: func(err error) bool { return errors.Is(err, errStale) }})
	if err != nil {
		t.Fatal(err)
	}
	pol := p.ComponentOutbound("s", Statestore)
	for _, e := range []error{errStale, Permanent(errBoom)} {
		calls := 0
		got := pol.Run(context.Background(), func(context.Context) error {
			calls++
			return e
		})
		if calls != 1 {
			t.Errorf("%v: %d calls, want 1", e, calls)
		}
		if _, marked := got.(*permanentError); marked || got == nil {
			t.Errorf("%v: Run returned %#v, want the plain error", e, got)
		}
	}
}

func TestTimeout(t *testing.T) {
	rec := newRecorder()
	pol := appPolicy(t, rec, resources.Policies{Timeouts: map[string]resources.Duration{"t": "20ms"}}, resources.EndpointPolicyNames{Timeout: "t"})
	err := pol.Run(context.Background(), func(ctx context.Context) error {
		<-ctx.Done() // a slow call that honours its context
		return errors.New("redis: i/o timeout")
	})
	if err != context.DeadlineExceeded {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if rec.count(rec.activated, "app/timeout") != 1 || rec.count(rec.executed, "app/timeout") != 1 {
		t.Errorf("observer: executed %v activated %v", rec.executed, rec.activated)
	}

	// A fast call is not affected.
	if err := pol.Run(context.Background(), func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}

	// The caller's own cancellation is not a timeout.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = pol.Run(ctx, func(ctx context.Context) error { return ctx.Err() })
	if err != context.Canceled {
		t.Errorf("cancelled caller: err = %v", err)
	}
}

func TestTimeoutIsRetried(t *testing.T) {
	pol := appPolicy(t, nil, resources.Policies{
		Timeouts: map[string]resources.Duration{"t": "10ms"},
		Retries:  map[string]resources.RetryPolicy{"r": {Duration: "1ms", MaxRetries: intp(3)}},
	}, resources.EndpointPolicyNames{Timeout: "t", Retry: "r"})
	calls := 0
	err := pol.Run(context.Background(), func(ctx context.Context) error {
		calls++
		if calls < 3 {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("err=%v calls=%d, want success on the third attempt", err, calls)
	}
}

func TestRunKeep(t *testing.T) {
	pol := appPolicy(t, nil, resources.Policies{Timeouts: map[string]resources.Duration{"t": "1h"}}, resources.EndpointPolicyNames{Timeout: "t"})
	var opCtx context.Context
	release, err := pol.RunKeep(context.Background(), func(ctx context.Context) error {
		opCtx = ctx
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if opCtx.Err() != nil {
		t.Fatal("the attempt's context ended before release")
	}
	release()
	if opCtx.Err() == nil {
		t.Fatal("release did not end the attempt's context")
	}
}

func TestCircuitBreaker(t *testing.T) {
	rec := newRecorder()
	pol := appPolicy(t, rec, resources.Policies{CircuitBreakers: map[string]resources.CircuitBreakerPolicy{
		"cb": {MaxRequests: 1, Timeout: "50ms", Trip: "consecutiveFailures >= 2"},
	}}, resources.EndpointPolicyNames{CircuitBreaker: "cb"})
	ctx := context.Background()
	calls := 0
	fail := func(context.Context) error { calls++; return errBoom }
	ok := func(context.Context) error { calls++; return nil }

	// Closed: the first failure does not trip (the trip needs 2).
	if err := pol.Run(ctx, fail); err != errBoom {
		t.Fatalf("first failure: %v", err)
	}
	if err := pol.Run(ctx, fail); err != errBoom {
		t.Fatalf("second failure: %v", err)
	}
	// Open: calls are refused without running.
	before := calls
	if err := pol.Run(ctx, ok); err != ErrCircuitOpen {
		t.Fatalf("open breaker: err = %v", err)
	}
	if calls != before {
		t.Fatal("the open breaker ran the operation")
	}
	if rec.count(rec.activated, "app/circuitbreaker") == 0 {
		t.Error("the refusal was not reported")
	}
	// After the timeout it is half-open and one success closes it.
	deadline := time.Now().Add(10 * time.Second)
	for pol.breaker.state() != "half-open" {
		if time.Now().After(deadline) {
			t.Fatal("the breaker never went half-open")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := pol.Run(ctx, ok); err != nil {
		t.Fatalf("half-open trial: %v", err)
	}
	if s := pol.breaker.state(); s != "closed" {
		t.Fatalf("state after a successful trial = %s", s)
	}
	if got := rec.stateList(); !slices.Equal(got, []string{"open", "half-open", "closed"}) {
		t.Errorf("state changes %v", got)
	}
}

func TestOpenBreakerStopsRetries(t *testing.T) {
	pol := appPolicy(t, nil, resources.Policies{
		Retries:         map[string]resources.RetryPolicy{"r": {Duration: "1ms", MaxRetries: intp(10)}},
		CircuitBreakers: map[string]resources.CircuitBreakerPolicy{"cb": {Timeout: "1h", Trip: "consecutiveFailures >= 3"}},
	}, resources.EndpointPolicyNames{Retry: "r", CircuitBreaker: "cb"})
	calls := 0
	err := pol.Run(context.Background(), func(context.Context) error { calls++; return errBoom })
	if err != ErrCircuitOpen || calls != 3 {
		t.Fatalf("err=%v calls=%d, want the breaker to end the retries after 3 calls", err, calls)
	}
}

func TestDefaultTrip(t *testing.T) {
	// Without a trip expression the breaker opens after more than 5
	// consecutive failures, as in Dapr.
	pol := appPolicy(t, nil, resources.Policies{CircuitBreakers: map[string]resources.CircuitBreakerPolicy{"cb": {Timeout: "1h"}}},
		resources.EndpointPolicyNames{CircuitBreaker: "cb"})
	for i := range 6 {
		if err := pol.Run(context.Background(), func(context.Context) error { return errBoom }); err != errBoom {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	if err := pol.Run(context.Background(), func(context.Context) error { return nil }); err != ErrCircuitOpen {
		t.Fatalf("after 6 failures: %v, want open", err)
	}
}

func TestRetryStopsWhenCallerGoesAway(t *testing.T) {
	pol := retryPolicy(t, resources.RetryPolicy{Duration: "1h"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- pol.Run(ctx, func(context.Context) error { return errBoom })
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, errBoom) {
			t.Errorf("err = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run kept waiting after the caller left")
	}
}
