package actors

import (
	"context"
	"errors"
	"testing"

	"github.com/outrigger/outrigger/internal/state"
)

func TestStateTransactionAndGet(t *testing.T) {
	h := newHarness(t, &fakeApp{}, nil)
	ctx := context.Background()
	err := h.rt.ExecuteStateTransaction(ctx, "counter", "s1", []StateOperation{
		{Type: "upsert", Key: "a", Value: []byte(`{"v":1}`)},
		{Type: "upsert", Key: "b", Value: []byte(`"two"`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Stored under Dapr's key layout.
	raw, err := h.store.Store.Get(ctx, state.GetRequest{Key: "app1||counter||s1||a"})
	if err != nil || !raw.Found || string(raw.Data) != `{"v":1}` {
		t.Fatalf("stored a = %+v, %v", raw, err)
	}
	got, err := h.rt.GetState(ctx, "counter", "s1", "b")
	if err != nil || string(got.Data) != `"two"` {
		t.Fatalf("get b = %+v, %v", got, err)
	}
	if err := h.rt.ExecuteStateTransaction(ctx, "counter", "s1", []StateOperation{{Type: "delete", Key: "a"}}); err != nil {
		t.Fatal(err)
	}
	got, err = h.rt.GetState(ctx, "counter", "s1", "a")
	if err != nil || got.Found {
		t.Fatalf("deleted key found: %+v, %v", got, err)
	}
}

func TestStateTransactionErrors(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(h *harness)
		ops     []StateOperation
		wantErr func(error) bool
	}{
		{"not local", func(h *harness) {
			h.pl.setOwner(func(string, string) (Host, error) { return Host{Name: "other:1"}, nil })
		}, []StateOperation{{Type: "upsert", Key: "k", Value: []byte(`1`)}}, func(err error) bool { return errors.Is(err, ErrNotLocal) }},
		{"ttl without feature", nil, []StateOperation{{Type: "upsert", Key: "k", Value: []byte(`1`), Metadata: map[string]string{"ttlInSeconds": "5"}}},
			func(err error) bool { return errors.Is(err, ErrStateTTLDisabled) }},
		{"unknown operation", nil, []StateOperation{{Type: "merge", Key: "k"}}, func(err error) bool {
			var u *ErrUnsupportedOperation
			return errors.As(err, &u) && u.Error() == "operation type merge not supported"
		}},
		{"no store", func(h *harness) { h.rt.cfg.StateStore = nil }, []StateOperation{{Type: "delete", Key: "k"}},
			func(err error) bool { return errors.Is(err, ErrNoStateStore) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, &fakeApp{}, nil)
			if tt.mod != nil {
				tt.mod(h)
			}
			err := h.rt.ExecuteStateTransaction(context.Background(), "counter", "x", tt.ops)
			if !tt.wantErr(err) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestStateTransactionIsAtomic(t *testing.T) {
	h := newHarness(t, &fakeApp{}, nil)
	ctx := context.Background()
	// The second step is invalid: nothing of the transaction is written.
	err := h.rt.ExecuteStateTransaction(ctx, "counter", "atom", []StateOperation{
		{Type: "upsert", Key: "first", Value: []byte(`1`)},
		{Type: "bogus", Key: "second"},
	})
	if err == nil {
		t.Fatal("transaction with an invalid step succeeded")
	}
	got, _ := h.rt.GetState(ctx, "counter", "atom", "first")
	if got.Found {
		t.Fatal("part of a failed transaction was written")
	}
}

func TestStateTTLWithFeature(t *testing.T) {
	h := newHarness(t, &fakeApp{}, func(c *Config) { c.StateTTL = true })
	ctx := context.Background()
	err := h.rt.ExecuteStateTransaction(ctx, "counter", "ttl", []StateOperation{{Type: "upsert", Key: "k", Value: []byte(`1`), Metadata: map[string]string{"ttlInSeconds": "100"}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := h.rt.GetState(ctx, "counter", "ttl", "k")
	if err != nil || !got.Found {
		t.Fatalf("get = %+v, %v", got, err)
	}
	if got.Metadata["ttlExpireTime"] == "" {
		t.Fatalf("no ttlExpireTime in %v", got.Metadata)
	}
}
