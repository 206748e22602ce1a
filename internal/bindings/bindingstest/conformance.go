package bindingstest

import (
	"context"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/bindings"
)

// Config describes one binding type for the conformance suite (Run): what
// it can do and how to drive it against its real backend. A binding's
// conformance test fills in the parts that apply: the output half, the
// input half, or both.
type Config struct {
	// Metadata returns the component metadata for one subtest. It names
	// backend resources (queue, topic, directory) unique to t and removes
	// them when t ends. The output and input instances of one subtest
	// share one call's metadata, as the two directions of one component
	// do.
	Metadata func(t *testing.T) bindings.Metadata

	// NewOutput returns an uninitialised output binding; nil when the
	// binding has no output side.
	NewOutput func() bindings.Output
	// Operations are exactly the operations the output lists, in the
	// order the suite runs them on one instance.
	Operations []Operation
	// InvokeAfterCloseSucceeds is for stateless outputs (a new connection
	// per call, as HTTP and SMTP) that keep working after Close. Every
	// other output must refuse an Invoke after Close with an error.
	InvokeAfterCloseSucceeds bool

	// NewInput returns an uninitialised input binding; nil when the
	// binding has no input side.
	NewInput func() bindings.Input
	// Produce makes the backend emit one event carrying data, for input
	// bindings fed by something other than their own output side.
	Produce func(t *testing.T, md bindings.Metadata, data []byte)
	// Send is the output request that emits data as one event on the
	// input side, for bidirectional bindings. Without Produce and Send the
	// input emits events on its own (cron) and they carry no data.
	Send func(data []byte) *bindings.InvokeRequest
	// CheckEvent checks the metadata the binding documents for its events.
	// md is the component metadata of the input, sent the request that
	// produced ev (nil when the event did not come from the output side).
	CheckEvent func(t *testing.T, md bindings.Metadata, sent *bindings.InvokeRequest, ev *bindings.Event)
	// Redelivers means the input acknowledges an event only after the app
	// took it, so an event the app failed comes again (at-least-once).
	// Otherwise a failed event is dropped and later ones still come.
	Redelivers bool
	// Wait bounds every wait for the backend: an event, a Read or Close
	// returning. It defaults to 10s.
	Wait time.Duration
}

// Operation is one output operation under test.
type Operation struct {
	Name string
	// Request is a minimal valid request. n differs between calls, so
	// requests can name distinct keys or files; the operations of one n
	// run in order, so a request may rely on the ones before it (get
	// after create).
	Request func(n int) *bindings.InvokeRequest
	// WantData means a successful response carries data.
	WantData bool
	// WantMetadata are the response metadata keys a response carries.
	WantMetadata []string
	// Check, when set, checks the response further.
	Check func(t *testing.T, req *bindings.InvokeRequest, res *bindings.InvokeResponse)
	// Serial keeps the operation out of the concurrent run, for
	// operations that end the instance (the SQL bindings' close).
	Serial bool
}

// Run runs the suite for one binding type.
func Run(t *testing.T, c Config) {
	if c.Metadata == nil || (c.NewOutput == nil && c.NewInput == nil) {
		t.Fatal("bindingstest: Config needs Metadata and NewOutput or NewInput")
	}
	if c.Redelivers && c.selfEmitting() {
		t.Fatal("bindingstest: Redelivers needs Produce or Send to tell a redelivery from a new event")
	}
	if c.Wait <= 0 {
		c.Wait = 10 * time.Second
	}
	if c.NewOutput != nil {
		t.Run("Output", c.runOutput)
	}
	if c.NewInput != nil {
		t.Run("Input", c.runInput)
	}
	if c.NewOutput != nil && c.NewInput != nil && c.Send != nil {
		t.Run("RoundTrip", c.testRoundTrip)
	}
}

// callCtx bounds one call to the binding.
func (c Config) callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), c.Wait)
	t.Cleanup(cancel)
	return ctx
}

// within runs f and fails the test when f panics or does not return
// within the suite's wait. The goroutine left behind by a call that hangs
// is lost, which only happens in a test that already failed.
func (c Config) within(t *testing.T, what string, f func() error) error {
	t.Helper()
	type result struct {
		err    error
		panicV any
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{panicV: p}
			}
		}()
		done <- result{err: f()}
	}()
	select {
	case r := <-done:
		if r.panicV != nil {
			t.Fatalf("%s panicked: %v", what, r.panicV)
		}
		return r.err
	case <-time.After(c.Wait):
		t.Fatalf("%s did not return within %s", what, c.Wait)
		return nil
	}
}
