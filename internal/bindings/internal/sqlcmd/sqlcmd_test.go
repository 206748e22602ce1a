package sqlcmd

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/outrigger/outrigger/internal/bindings"
)

// fakeDB records the arguments it gets.
type fakeDB struct {
	args   []any
	closed int
}

func (f *fakeDB) Exec(_ context.Context, _ string, args []any) (int64, error) {
	f.args = args
	return 3, nil
}

func (f *fakeDB) Query(_ context.Context, sql string, args []any) ([]byte, error) {
	f.args = args
	if sql == "bad" {
		return nil, errors.New("syntax")
	}
	return []byte(`[[1]]`), nil
}

func (f *fakeDB) Close() error { f.closed++; return nil }

func TestInvoke(t *testing.T) {
	db := &fakeDB{}
	b := &Binding{DB: db}
	ctx := context.Background()
	res, err := b.Invoke(ctx, &bindings.InvokeRequest{Operation: "exec", Metadata: map[string]string{"sql": "UPDATE", "params": `[1, "a", null, true]`}})
	if err != nil || res.Metadata["rows-affected"] != "3" || res.Metadata["operation"] != "exec" || res.Metadata["sql"] != "UPDATE" {
		t.Fatalf("exec = %v, %v", res, err)
	}
	if !reflect.DeepEqual(db.args, []any{1.0, "a", nil, true}) {
		t.Fatalf("args %#v", db.args)
	}
	res, err = b.Invoke(ctx, &bindings.InvokeRequest{Operation: "query", Metadata: map[string]string{"sql": "SELECT"}})
	if err != nil || string(res.Data) != "[[1]]" || db.args != nil {
		t.Fatalf("query = %v, %v (args %v)", res, err, db.args)
	}
	for _, md := range []map[string]string{{}, {"sql": "x", "params": "{}"}, {"sql": "bad"}} {
		if _, err := b.Invoke(ctx, &bindings.InvokeRequest{Operation: "query", Metadata: md}); err == nil {
			t.Errorf("query %v succeeded", md)
		}
	}
	if _, err := b.Invoke(ctx, &bindings.InvokeRequest{Operation: "close"}); err != nil {
		t.Fatal(err)
	}
	_ = b.Close()
	if db.closed != 1 {
		t.Fatalf("closed %d times", db.closed)
	}
	if _, err := b.Invoke(ctx, &bindings.InvokeRequest{Operation: "query", Metadata: map[string]string{"sql": "SELECT"}}); err == nil {
		t.Fatal("query after close succeeded")
	}
}
