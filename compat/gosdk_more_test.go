package compat

import (
	"slices"
	"testing"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"google.golang.org/grpc/codes"
)

func goTransaction(t *testing.T, e *goEnv) {
	ctx := callCtx(t)
	p := "tx-" + uniq(t) + "-"
	for _, k := range []string{p + "a", p + "gone"} {
		if err := e.c.SaveState(ctx, storeName, k, []byte(`"seed"`), nil); err != nil {
			t.Fatalf("seed %s: %v", k, err)
		}
	}

	ops := []*dapr.StateOperation{
		{Type: dapr.StateOperationTypeUpsert, Item: &dapr.SetStateItem{Key: p + "a", Value: []byte(`"a1"`)}},
		{Type: dapr.StateOperationTypeUpsert, Item: &dapr.SetStateItem{Key: p + "b", Value: []byte(`"b1"`)}},
		{Type: dapr.StateOperationTypeDelete, Item: &dapr.SetStateItem{Key: p + "gone"}},
	}
	if err := e.c.ExecuteStateTransaction(ctx, storeName, nil, ops); err != nil {
		t.Fatalf("ExecuteStateTransaction: %v", err)
	}
	goWantValue(t, e, p+"a", `"a1"`)
	goWantValue(t, e, p+"b", `"b1"`)
	goWantAbsent(t, e, p+"gone")

	// Make a's etag stale, then try a transaction that would change b first.
	stale := goGet(t, e, p+"a").Etag
	if err := e.c.SaveState(ctx, storeName, p+"a", []byte(`"a2"`), nil); err != nil {
		t.Fatalf("SaveState: %v", err)
	}
	ops = []*dapr.StateOperation{
		{Type: dapr.StateOperationTypeUpsert, Item: &dapr.SetStateItem{Key: p + "b", Value: []byte(`"b2"`)}},
		{Type: dapr.StateOperationTypeDelete, Item: &dapr.SetStateItem{Key: p + "c-new"}},
		{Type: dapr.StateOperationTypeUpsert, Item: &dapr.SetStateItem{
			Key: p + "a", Value: []byte(`"a3"`), Etag: &dapr.ETag{Value: stale},
		}},
	}
	err := e.c.ExecuteStateTransaction(ctx, storeName, nil, ops)
	// daprd reports every store error of a transaction, ETag ones included,
	// as ERR_STATE_TRANSACTION (gRPC Internal), not as Aborted.
	wantCode(t, "transaction with a stale etag", err, codes.Internal)
	goWantValue(t, e, p+"a", `"a2"`)
	goWantValue(t, e, p+"b", `"b1"`)
}

func goMetadata(t *testing.T, e *goEnv) {
	ctx := callCtx(t)
	md, err := e.c.GetMetadata(ctx)
	if err != nil {
		t.Fatalf("GetMetadata: %v", err)
	}
	if md.ID != e.appID {
		t.Errorf("GetMetadata id = %q, want %q", md.ID, e.appID)
	}
	comp := findComponent(md.RegisteredComponents, storeName)
	if comp == nil {
		t.Fatalf("GetMetadata components %s do not list %q", describeComponents(md.RegisteredComponents), storeName)
	}
	if comp.Type != e.store.typ || comp.Version != "v1" {
		t.Errorf("component %q: type %q version %q, want %q v1", storeName, comp.Type, comp.Version, e.store.typ)
	}
	for _, c := range e.store.capabilities {
		if !slices.Contains(comp.Capabilities, c) {
			t.Errorf("component %q capabilities %v lack %s", storeName, comp.Capabilities, c)
		}
	}
	if md.ExtendedMetadata["daprRuntimeVersion"] == "" {
		t.Errorf("extended metadata %v lacks daprRuntimeVersion", md.ExtendedMetadata)
	}

	key, val := "compat-go-"+uniq(t), "value with spaces/and:colons"
	if err := e.c.SetMetadata(ctx, key, val); err != nil {
		t.Fatalf("SetMetadata(%s): %v", key, err)
	}
	md, err = e.c.GetMetadata(ctx)
	if err != nil {
		t.Fatalf("GetMetadata after SetMetadata: %v", err)
	}
	if got := md.ExtendedMetadata[key]; got != val {
		t.Errorf("extended[%q] = %q, want %q (extended: %v)", key, got, val, md.ExtendedMetadata)
	}
}

func goTTL(t *testing.T, e *goEnv) {
	ctx := callCtx(t)
	p := "ttl-" + uniq(t) + "-"
	short, keep := p+"short", p+"keep"
	saved := time.Now()
	if err := e.c.SaveState(ctx, storeName, short, []byte(`"bye"`), map[string]string{"ttlInSeconds": "1"}); err != nil {
		t.Fatalf("SaveState with ttlInSeconds=1: %v", err)
	}
	if err := e.c.SaveState(ctx, storeName, keep, []byte(`"stay"`), nil); err != nil {
		t.Fatalf("SaveState without TTL: %v", err)
	}

	item := goGet(t, e, short)
	if string(item.Value) != `"bye"` {
		t.Fatalf("GetState right after a 1s-TTL save = %q, want \"bye\"", item.Value)
	}
	// The in-memory and SQLite stores report the expiry time.
	exp, err := time.Parse(time.RFC3339, item.Metadata["ttlExpireTime"])
	if err != nil {
		t.Errorf("GetState metadata %v: ttlExpireTime not RFC3339: %v", item.Metadata, err)
	} else if exp.Before(saved.Add(-time.Second)) || exp.After(saved.Add(3*time.Second)) {
		t.Errorf("ttlExpireTime %s is not about 1s after the save at %s", exp, saved.Format(time.RFC3339Nano))
	}

	bulk := goBulkGet(t, e, []string{short})
	if got, want := bulk[short].Metadata["ttlExpireTime"], item.Metadata["ttlExpireTime"]; got != want {
		t.Errorf("GetBulkState ttlExpireTime = %q, GetState said %q", got, want)
	}

	deadline := time.Now().Add(5 * time.Second)
	for len(goGet(t, e, short).Value) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("key with ttlInSeconds=1 still readable %s after the save", time.Since(saved))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if time.Since(saved) < 900*time.Millisecond {
		t.Errorf("key with ttlInSeconds=1 vanished after only %s", time.Since(saved))
	}
	goWantValue(t, e, keep, `"stay"`)
}

func findComponent(comps []*dapr.MetadataRegisteredComponents, name string) *dapr.MetadataRegisteredComponents {
	for _, c := range comps {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func describeComponents(comps []*dapr.MetadataRegisteredComponents) []string {
	var out []string
	for _, c := range comps {
		out = append(out, c.Name+"("+c.Type+")")
	}
	return out
}
