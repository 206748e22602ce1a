package compat

import (
	"bytes"
	"context"
	"testing"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// goEnv is what a Go SDK scenario gets: a client connected to a sidecar
// whose only component is the store under test.
type goEnv struct {
	c     dapr.Client
	store stateStore
	appID string
}

// goScenarios run in order against one sidecar per store; each uses its own
// keys, so they do not depend on each other.
var goScenarios = []struct {
	name string
	run  func(t *testing.T, e *goEnv)
}{
	{"save-get-delete", goSaveGetDelete},
	{"bulk", goBulk},
	{"etag", goETag},
	{"first-write", goFirstWrite},
	{"transaction", goTransaction},
	{"query", goQuery},
	{"metadata", goMetadata},
	{"ttl", goTTL},
}

func TestGoSDKState(t *testing.T) {
	for _, st := range stateStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			appID := "gosdk-" + st.name + "-" + uniq(t)
			sc := startStore(t, appID, st)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			c, err := dapr.NewClientWithAddressContext(ctx, sc.GRPCAddr())
			if err != nil {
				t.Fatalf("connect Go SDK to %s: %v", sc.GRPCAddr(), err)
			}
			// Registered after the sidecar's cleanup, so it runs before it.
			t.Cleanup(c.Close)
			e := &goEnv{c: c, store: st, appID: appID}
			for _, s := range goScenarios {
				t.Run(s.name, func(t *testing.T) { s.run(t, e) })
			}
		})
	}
}

func goSaveGetDelete(t *testing.T, e *goEnv) {
	ctx := callCtx(t)
	k := "crud-" + uniq(t)

	if err := e.c.SaveState(ctx, storeName, k, []byte(`{"a":1,"s":"x"}`), nil); err != nil {
		t.Fatalf("SaveState(%s): %v", k, err)
	}
	item := goGet(t, e, k)
	if string(item.Value) != `{"a":1,"s":"x"}` {
		t.Errorf("GetState(%s) value = %q, want the saved bytes", k, item.Value)
	}
	if item.Etag == "" {
		t.Errorf("GetState(%s) returned no etag", k)
	}

	// gRPC values are bytes: anything, not only JSON, must come back as is.
	raw := []byte{0x00, 0xff, 0x10, '"', 0x7f}
	if err := e.c.SaveState(ctx, storeName, k, raw, nil); err != nil {
		t.Fatalf("SaveState(%s, binary): %v", k, err)
	}
	if got := goGet(t, e, k).Value; !bytes.Equal(got, raw) {
		t.Errorf("GetState(%s) after binary overwrite = %v, want %v", k, got, raw)
	}

	if err := e.c.DeleteState(ctx, storeName, k, nil); err != nil {
		t.Fatalf("DeleteState(%s): %v", k, err)
	}
	goWantAbsent(t, e, k)
	// Deleting a missing key is not an error in Dapr.
	if err := e.c.DeleteState(ctx, storeName, k, nil); err != nil {
		t.Errorf("DeleteState(%s) of a missing key: %v", k, err)
	}
	goWantAbsent(t, e, "never-saved-"+uniq(t))
}

func goBulk(t *testing.T, e *goEnv) {
	ctx := callCtx(t)
	p := "bulk-" + uniq(t) + "-"
	want := map[string]string{p + "a": `"A"`, p + "b": `{"b":2}`, p + "c": `[3]`}
	var items []*dapr.SetStateItem
	for k, v := range want {
		items = append(items, &dapr.SetStateItem{Key: k, Value: []byte(v)})
	}
	if err := e.c.SaveBulkState(ctx, storeName, items...); err != nil {
		t.Fatalf("SaveBulkState: %v", err)
	}

	keys := []string{p + "a", p + "b", p + "c", p + "missing"}
	got := goBulkGet(t, e, keys)
	for _, k := range keys {
		it, ok := got[k]
		if !ok {
			t.Errorf("GetBulkState: no item for key %q (got %d items)", k, len(got))
			continue
		}
		if it.Error != "" {
			t.Errorf("GetBulkState item %q error = %q", k, it.Error)
		}
		if string(it.Value) != want[k] {
			t.Errorf("GetBulkState item %q value = %q, want %q", k, it.Value, want[k])
		}
		if present := want[k] != ""; present == (it.Etag == "") {
			t.Errorf("GetBulkState item %q etag = %q (present=%v)", k, it.Etag, present)
		}
	}

	if err := e.c.DeleteBulkState(ctx, storeName, []string{p + "a", p + "b"}, nil); err != nil {
		t.Fatalf("DeleteBulkState: %v", err)
	}
	got = goBulkGet(t, e, keys[:3])
	for _, k := range keys[:2] {
		if v := got[k]; v == nil || len(v.Value) != 0 {
			t.Errorf("after DeleteBulkState, item %q = %+v, want present with no value", k, v)
		}
	}
	if v := got[p+"c"]; v == nil || string(v.Value) != want[p+"c"] {
		t.Errorf("after DeleteBulkState, untouched item %q = %+v", p+"c", v)
	}
}

func goETag(t *testing.T, e *goEnv) {
	ctx := callCtx(t)
	k := "etag-" + uniq(t)
	if err := e.c.SaveState(ctx, storeName, k, []byte(`"v1"`), nil); err != nil {
		t.Fatalf("SaveState: %v", err)
	}
	e1 := goGet(t, e, k).Etag

	if err := e.c.SaveStateWithETag(ctx, storeName, k, []byte(`"v2"`), e1, nil); err != nil {
		t.Fatalf("SaveStateWithETag with the current etag %q: %v", e1, err)
	}
	cur := goGet(t, e, k)
	e2 := cur.Etag
	if string(cur.Value) != `"v2"` || e2 == "" || e2 == e1 {
		t.Fatalf("after etag save: value %q etag %q (old %q); want \"v2\" and a new etag", cur.Value, e2, e1)
	}

	err := e.c.SaveStateWithETag(ctx, storeName, k, []byte(`"v3"`), e1, nil)
	wantCode(t, "SaveStateWithETag with a stale etag", err, codes.Aborted)
	goWantValue(t, e, k, `"v2"`)

	err = e.c.DeleteStateWithETag(ctx, storeName, k, &dapr.ETag{Value: e1}, nil, nil)
	wantCode(t, "DeleteStateWithETag with a stale etag", err, codes.Aborted)
	goWantValue(t, e, k, `"v2"`)

	if err := e.c.DeleteStateWithETag(ctx, storeName, k, &dapr.ETag{Value: e2}, nil, nil); err != nil {
		t.Fatalf("DeleteStateWithETag with the current etag: %v", err)
	}
	goWantAbsent(t, e, k)
}

func goFirstWrite(t *testing.T, e *goEnv) {
	ctx := callCtx(t)
	k := "fw-" + uniq(t)
	first := dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite)

	if err := e.c.SaveState(ctx, storeName, k, []byte(`"v1"`), nil, first); err != nil {
		t.Fatalf("first-write save of a new key: %v", err)
	}
	err := e.c.SaveState(ctx, storeName, k, []byte(`"v2"`), nil, first)
	wantCode(t, "first-write save without etag over an existing key", err, codes.Aborted)
	cur := goGet(t, e, k)
	if string(cur.Value) != `"v1"` {
		t.Fatalf("value after refused first-write = %q, want \"v1\"", cur.Value)
	}

	if err := e.c.SaveStateWithETag(ctx, storeName, k, []byte(`"v3"`), cur.Etag, nil, first); err != nil {
		t.Fatalf("first-write save with the current etag: %v", err)
	}
	err = e.c.SaveStateWithETag(ctx, storeName, k, []byte(`"v4"`), cur.Etag, nil, first)
	wantCode(t, "first-write save with a stale etag", err, codes.Aborted)
	goWantValue(t, e, k, `"v3"`)

	// Last-write (the SDK default) ignores concurrency without an etag.
	if err := e.c.SaveState(ctx, storeName, k, []byte(`"v5"`), nil); err != nil {
		t.Fatalf("last-write save over an existing key: %v", err)
	}
	goWantValue(t, e, k, `"v5"`)
}

// callCtx bounds every SDK call so a hung sidecar fails the test quickly.
func callCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func goGet(t *testing.T, e *goEnv, key string) *dapr.StateItem {
	t.Helper()
	item, err := e.c.GetState(callCtx(t), storeName, key, nil)
	if err != nil {
		t.Fatalf("GetState(%s): %v", key, err)
	}
	return item
}

func goWantValue(t *testing.T, e *goEnv, key, want string) {
	t.Helper()
	if got := goGet(t, e, key).Value; string(got) != want {
		t.Errorf("GetState(%s) = %q, want %q", key, got, want)
	}
}

// goWantAbsent checks Dapr's gRPC answer for a missing key: no error, no
// data and no etag.
func goWantAbsent(t *testing.T, e *goEnv, key string) {
	t.Helper()
	item := goGet(t, e, key)
	if len(item.Value) != 0 || item.Etag != "" {
		t.Errorf("GetState(%s) of a missing key = value %q etag %q, want both empty", key, item.Value, item.Etag)
	}
}

func goBulkGet(t *testing.T, e *goEnv, keys []string) map[string]*dapr.BulkStateItem {
	t.Helper()
	items, err := e.c.GetBulkState(callCtx(t), storeName, keys, nil, 2)
	if err != nil {
		t.Fatalf("GetBulkState(%v): %v", keys, err)
	}
	if len(items) != len(keys) {
		t.Errorf("GetBulkState(%d keys) returned %d items", len(keys), len(items))
	}
	byKey := make(map[string]*dapr.BulkStateItem, len(items))
	for _, it := range items {
		byKey[it.Key] = it
	}
	return byKey
}

// wantCode checks that err carries the gRPC status code Dapr uses.
func wantCode(t *testing.T, what string, err error, want codes.Code) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: succeeded, want gRPC %v", what, want)
		return
	}
	st, ok := status.FromError(err)
	if !ok {
		t.Errorf("%s: error %v carries no gRPC status, want %v", what, err, want)
		return
	}
	if st.Code() != want {
		t.Errorf("%s: gRPC code %v (%q), want %v", what, st.Code(), st.Message(), want)
	}
}
