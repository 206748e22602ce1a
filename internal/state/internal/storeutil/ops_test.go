package storeutil

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/state"
)

func TestOpContext(t *testing.T) {
	near, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	ctx, stop := OpContext(near, time.Minute)
	defer stop()
	if ctx != near {
		t.Error("OpContext replaced a nearer deadline")
	}
	ctx, stop = OpContext(t.Context(), time.Minute)
	defer stop()
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > time.Minute {
		t.Errorf("OpContext deadline = %v, %v; want within a minute", d, ok)
	}
}

func TestTTL(t *testing.T) {
	tests := []struct {
		value   string
		want    time.Duration
		ok      bool
		wantErr bool
	}{
		{"", 0, false, false},
		{"0", 0, false, false},
		{"-1", 0, false, false},
		{"90", 90 * time.Second, true, false},
		{"x", 0, false, true},
	}
	for _, tc := range tests {
		got, ok, err := TTL(map[string]string{state.MetaTTLInSeconds: tc.value})
		if got != tc.want || ok != tc.ok || (err != nil) != tc.wantErr {
			t.Errorf("TTL(%q) = %v, %v, %v; want %v, %v, error %v", tc.value, got, ok, err, tc.want, tc.ok, tc.wantErr)
		}
	}
}

func TestExpiryMetadata(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 6e8, time.FixedZone("x", 3600))
	if got := ExpiryMetadata(at)[state.MetaTTLExpireTime]; got != "2030-01-02T02:04:05Z" {
		t.Errorf("ExpiryMetadata = %q, want UTC RFC3339 without fraction", got)
	}
}

type result int64

func (r result) LastInsertId() (int64, error) { return 0, nil }
func (r result) RowsAffected() (int64, error) { return int64(r), nil }

func TestCheckAffected(t *testing.T) {
	boom := errors.New("boom")
	if err := CheckAffected(result(1), nil); err != nil {
		t.Errorf("one row: %v", err)
	}
	if _, ok := state.AsETagError(CheckAffected(result(0), nil)); !ok {
		t.Error("no row: want an ETag mismatch")
	}
	if err := CheckAffected(nil, boom); !errors.Is(err, boom) {
		t.Errorf("failed statement: %v", err)
	}
}

func TestPrepareAndApplyOps(t *testing.T) {
	ops := []state.Operation{
		{Type: state.OpUpsert, Set: state.SetRequest{Key: "a"}},
		{Type: state.OpDelete, Delete: state.DeleteRequest{Key: "b"}},
		{Type: state.OpUpsert, Set: state.SetRequest{Key: "c"}},
	}
	set := func(r state.SetRequest) (string, error) { return "set " + r.Key, nil }
	writes, err := PrepareOps(ops, set, ValidateDelete[string])
	if err != nil || !slices.Equal(writes, []string{"set a", "", "set c"}) {
		t.Fatalf("PrepareOps = %q, %v", writes, err)
	}
	var done []string
	err = ApplyOps(ops, writes,
		func(w string) error { done = append(done, w); return nil },
		func(r state.DeleteRequest) error { done = append(done, "delete "+r.Key); return nil })
	if err != nil || !slices.Equal(done, []string{"set a", "delete b", "set c"}) {
		t.Errorf("ApplyOps ran %q, %v", done, err)
	}

	mismatch := state.NewETagMismatch(nil)
	err = ApplyOps(ops, writes,
		func(string) error { return nil },
		func(state.DeleteRequest) error { return mismatch })
	if !errors.Is(err, mismatch) || !strings.Contains(err.Error(), `transaction step 1 (delete "b")`) {
		t.Errorf("ApplyOps with a failing step: %v", err)
	}

	bad := []state.Operation{{Type: "merge"}}
	var ire *state.InvalidRequestError
	if _, err := PrepareOps(bad, set, ValidateDelete[string]); !errors.As(err, &ire) {
		t.Errorf("PrepareOps(unknown type) = %v, want an InvalidRequestError", err)
	}
	badOpts := []state.Operation{{Type: state.OpDelete, Delete: state.DeleteRequest{Key: "b", Options: state.Options{Concurrency: "sometimes"}}}}
	if _, err := PrepareOps(badOpts, set, ValidateDelete[string]); err == nil {
		t.Error("PrepareOps(bad delete options) = nil, want an error")
	}
}

func TestBulkGet(t *testing.T) {
	reqs := make([]state.GetRequest, MaxBulkKeys+2)
	for i := range reqs {
		reqs[i].Key = fmt.Sprintf("k%d", len(reqs)-i) // not in sorted order
	}
	var chunks []int
	items, err := BulkGet(reqs, func(keys []any, found map[string]state.GetResponse) error {
		chunks = append(chunks, len(keys))
		for _, k := range keys {
			if k := k.(string); strings.HasSuffix(k, "0") {
				found[k] = state.GetResponse{Found: true, Data: []byte(k)}
			}
		}
		return nil
	})
	if err != nil || !slices.Equal(chunks, []int{MaxBulkKeys, 2}) || len(items) != len(reqs) {
		t.Fatalf("BulkGet: %d items, chunks %v, %v", len(items), chunks, err)
	}
	for i, it := range items {
		want := strings.HasSuffix(reqs[i].Key, "0")
		if it.Key != reqs[i].Key || it.Found != want || (want && string(it.Data) != it.Key) {
			t.Fatalf("item %d = %+v, want key %q found=%v", i, it, reqs[i].Key, want)
		}
	}
	boom := errors.New("boom")
	if _, err := BulkGet(reqs, func([]any, map[string]state.GetResponse) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("BulkGet with a failing read: %v", err)
	}
}

func TestPlaceholders(t *testing.T) {
	if got := Placeholders(1); got != "?" {
		t.Errorf("Placeholders(1) = %q", got)
	}
	if got := Placeholders(3); got != "?,?,?" {
		t.Errorf("Placeholders(3) = %q", got)
	}
}
