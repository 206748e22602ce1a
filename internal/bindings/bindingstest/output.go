package bindingstest

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/outrigger/outrigger/internal/bindings"
)

// concurrentCallers is how many goroutines share one output instance in
// the concurrent run, as the API server's requests do.
const concurrentCallers = 8

// validOperation is the shape of Dapr's operation names: a lower-case
// word, camelCase when longer ("create", "bulkCreate").
var validOperation = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)

func (c Config) runOutput(t *testing.T) {
	if len(c.Operations) == 0 {
		t.Fatal("bindingstest: an output needs its Operations")
	}
	t.Run("Operations", c.testOperationList)
	t.Run("UnknownOperation", c.testUnknownOperation)
	t.Run("EachOperation", c.testEachOperation)
	t.Run("Concurrent", c.testConcurrentInvokes)
	t.Run("Close", c.testOutputClose)
}

// newOutput initialises an output with md and closes it when t ends.
func (c Config) newOutput(t *testing.T, md bindings.Metadata) bindings.Output {
	t.Helper()
	out := c.NewOutput()
	if err := c.within(t, "output Init", func() error { return out.Init(c.callCtx(t), md) }); err != nil {
		t.Fatalf("output Init: %v", err)
	}
	t.Cleanup(func() { _ = out.Close() })
	return out
}

// invoke calls out, failing the test on a panic or a hang.
func (c Config) invoke(t *testing.T, out bindings.Output, req *bindings.InvokeRequest) (*bindings.InvokeResponse, error) {
	t.Helper()
	var res *bindings.InvokeResponse
	err := c.within(t, "Invoke "+req.Operation, func() error {
		var err error
		res, err = out.Invoke(c.callCtx(t), req)
		return err
	})
	return res, err
}

// testOperationList: Operations lists exactly the declared operations,
// each once and each a valid name.
func (c Config) testOperationList(t *testing.T) {
	out := c.newOutput(t, c.Metadata(t))
	got := out.Operations()
	var want []string
	for _, op := range c.Operations {
		want = append(want, op.Name)
	}
	if !sameSet(got, want) {
		t.Errorf("Operations() = %v, want %v", got, want)
	}
	for i, op := range got {
		if !validOperation.MatchString(op) {
			t.Errorf("operation %q is not a valid operation name", op)
		}
		if slices.Contains(got[:i], op) {
			t.Errorf("operation %q is listed twice", op)
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// testUnknownOperation: an operation the binding does not list fails with
// an error naming it, even when the rest of the request is valid.
func (c Config) testUnknownOperation(t *testing.T) {
	out := c.newOutput(t, c.Metadata(t))
	req := c.Operations[0].Request(0)
	req.Operation = "conformanceUnknownOp"
	_, err := c.invoke(t, out, req)
	if err == nil {
		t.Fatalf("Invoke of unknown operation %q succeeded", req.Operation)
	}
	if !strings.Contains(err.Error(), req.Operation) {
		t.Errorf("error %q does not name the operation %q", err, req.Operation)
	}
}

// testEachOperation runs every operation once, in order, on one instance.
func (c Config) testEachOperation(t *testing.T) {
	out := c.newOutput(t, c.Metadata(t))
	for _, op := range c.Operations {
		req := op.Request(0)
		req.Operation = op.Name
		res, err := c.invoke(t, out, req)
		if err != nil {
			t.Fatalf("Invoke %s: %v", op.Name, err)
		}
		if msg := op.checkResponse(res); msg != "" {
			t.Errorf("Invoke %s: %s", op.Name, msg)
		}
		if op.Check != nil {
			op.Check(t, req, res)
		}
	}
}

// checkResponse reports what the response lacks ("" when nothing).
func (op Operation) checkResponse(res *bindings.InvokeResponse) string {
	if op.WantData && (res == nil || len(res.Data) == 0) {
		return fmt.Sprintf("response %+v has no data", res)
	}
	for _, k := range op.WantMetadata {
		if res == nil || res.Metadata[k] == "" {
			return fmt.Sprintf("response %+v lacks metadata %q", res, k)
		}
	}
	return ""
}

// testConcurrentInvokes: several goroutines run the operations (except
// the serial ones) on one instance at once, each on its own keys.
func (c Config) testConcurrentInvokes(t *testing.T) {
	out := c.newOutput(t, c.Metadata(t))
	var wg sync.WaitGroup
	errs := make(chan error, concurrentCallers*len(c.Operations))
	for g := range concurrentCallers {
		wg.Go(func() {
			for _, op := range c.Operations {
				if op.Serial {
					continue
				}
				if err := c.invokeChecked(t, out, op, 100+g); err != nil {
					errs <- fmt.Errorf("caller %d: %w", g, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// invokeChecked runs one operation for the concurrent run: no t.Fatal
// off the test goroutine, so problems come back as errors.
func (c Config) invokeChecked(t *testing.T, out bindings.Output, op Operation, n int) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("operation %s panicked: %v", op.Name, p)
		}
	}()
	req := op.Request(n)
	req.Operation = op.Name
	res, err := out.Invoke(c.callCtx(t), req)
	if err != nil {
		return fmt.Errorf("operation %s: %w", op.Name, err)
	}
	if msg := op.checkResponse(res); msg != "" {
		return fmt.Errorf("operation %s: %s", op.Name, msg)
	}
	return nil
}

// testOutputClose: Close returns, a second Close returns too, and an
// Invoke after Close fails cleanly (or, for stateless outputs, works).
func (c Config) testOutputClose(t *testing.T) {
	out := c.newOutput(t, c.Metadata(t))
	first := c.Operations[0]
	req := first.Request(200)
	req.Operation = first.Name
	if _, err := c.invoke(t, out, req); err != nil {
		t.Fatalf("Invoke %s before Close: %v", first.Name, err)
	}
	if err := c.within(t, "Close", out.Close); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.within(t, "second Close", out.Close); err != nil {
		t.Logf("second Close: %v", err) // an error is fine; a hang or panic is not
	}
	req = first.Request(201)
	req.Operation = first.Name
	_, err := c.invoke(t, out, req)
	switch {
	case c.InvokeAfterCloseSucceeds && err != nil:
		t.Errorf("Invoke after Close of a stateless output: %v", err)
	case !c.InvokeAfterCloseSucceeds && err == nil:
		t.Error("Invoke after Close succeeded")
	}
}
