package api_test

import (
	"context"
	"errors"
	"testing"
	"time"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc/codes"

	"github.com/outrigger/outrigger/internal/api"
	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/outbox"
	"github.com/outrigger/outrigger/internal/pubsub"
	psmemory "github.com/outrigger/outrigger/internal/pubsub/memory"
	"github.com/outrigger/outrigger/internal/state"
	stmemory "github.com/outrigger/outrigger/internal/state/memory"
)

// fakeOutbox records what the core hands it. Begin drops the last
// operation (standing in for a projection) and fails when err is set.
type fakeOutbox struct {
	enabled string
	err     error

	began    [][]state.Operation
	finished []error
}

func (f *fakeOutbox) Enabled(store string) bool { return store == f.enabled }

func (f *fakeOutbox) Begin(_ context.Context, _ string, req state.TransactionRequest) (state.TransactionRequest, func(error), error) {
	f.began = append(f.began, req.Operations)
	if f.err != nil {
		return req, nil, f.err
	}
	req.Operations = req.Operations[:len(req.Operations)-1]
	return req, func(err error) { f.finished = append(f.finished, err) }, nil
}

func newMemoryStore(t *testing.T, name string) *state.Component {
	t.Helper()
	s := stmemory.New()
	if err := s.Init(context.Background(), state.Metadata{Name: name}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	keys, err := state.NewKeyScheme("", "myapp", name, "")
	if err != nil {
		t.Fatal(err)
	}
	return state.NewComponent(name, "state.in-memory", "v1", s, keys, false)
}

func txRequest(store string, ops ...*runtimev1.TransactionalStateOperation) *runtimev1.ExecuteStateTransactionRequest {
	return &runtimev1.ExecuteStateTransactionRequest{StoreName: store, Operations: ops}
}

func upsertOp(key, value string, etag *commonv1.Etag) *runtimev1.TransactionalStateOperation {
	return &runtimev1.TransactionalStateOperation{OperationType: "upsert", Request: &commonv1.StateItem{Key: key, Value: []byte(value), Etag: etag}}
}

func stored(t *testing.T, core *api.Core, store, key string) string {
	t.Helper()
	res, err := core.GetState(context.Background(), &runtimev1.GetStateRequest{StoreName: store, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return string(res.GetData())
}

func TestTransactionThroughOutbox(t *testing.T) {
	boxed, plain := newMemoryStore(t, "boxed"), newMemoryStore(t, "plain")
	box := &fakeOutbox{enabled: "boxed"}
	core := api.New(api.Config{AppID: "myapp", StateStores: []*state.Component{boxed, plain}, Outbox: box})
	ctx := context.Background()

	// Committed: the outbox's operations are what the store gets.
	if err := core.ExecuteStateTransactionJSON(ctx, txRequest("boxed", upsertOp("a", `"1"`, nil), upsertOp("b", `"2"`, nil))); err != nil {
		t.Fatal(err)
	}
	if got := stored(t, core, "boxed", "a"); got != `"1"` {
		t.Errorf("a = %q", got)
	}
	if got := stored(t, core, "boxed", "b"); got != "" {
		t.Errorf("b = %q, want it left out by the outbox", got)
	}
	if len(box.began) != 1 || len(box.began[0]) != 2 || len(box.finished) != 1 || box.finished[0] != nil {
		t.Fatalf("began %v, finished %v", box.began, box.finished)
	}

	// Failed commit: the outbox hears about it; the error is the store's.
	err := core.ExecuteStateTransactionJSON(ctx, txRequest("boxed", upsertOp("a", `"x"`, &commonv1.Etag{Value: "999"}), upsertOp("c", `"3"`, nil)))
	checkCode(t, err, "ERR_STATE_TRANSACTION")
	if len(box.finished) != 2 || box.finished[1] == nil {
		t.Fatalf("finished %v, want the commit error reported", box.finished)
	}

	// A store without an outbox never reaches it.
	if err := core.ExecuteStateTransactionJSON(ctx, txRequest("plain", upsertOp("a", `"1"`, nil))); err != nil {
		t.Fatal(err)
	}
	if len(box.began) != 2 {
		t.Errorf("outbox called %d times, want 2", len(box.began))
	}
}

func TestTransactionOutboxFailure(t *testing.T) {
	boxed := newMemoryStore(t, "boxed")
	box := &fakeOutbox{enabled: "boxed", err: errors.New("broker down")}
	core := api.New(api.Config{AppID: "myapp", StateStores: []*state.Component{boxed}, Outbox: box})
	err := core.ExecuteStateTransaction(context.Background(), txRequest("boxed", upsertOp("a", "1", nil), upsertOp("b", "2", nil)))
	checkErr(t, err, wantErr{code: "ERR_PUBLISH_OUTBOX", http: 500, grpc: codes.Internal, reason: "DAPR_PUBSUB_OUTBOX",
		msg: "error while publishing outbox message: broker down", md: map[string]string{"appID": "myapp", "error": "broker down"}})
	if got := stored(t, core, "boxed", "a"); got != "" {
		t.Errorf("a = %q: the transaction ran although the outbox failed", got)
	}
}

func checkCode(t *testing.T, err error, code string) {
	t.Helper()
	var e *apierr.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("err = %v, want %s", err, code)
	}
}

// The real outbox behind the core: an HTTP transaction publishes its
// upsert to the outbox topic as a CloudEvent.
func TestTransactionPublishesThroughRealOutbox(t *testing.T) {
	store := newMemoryStore(t, "store")
	b := psmemory.New()
	if err := b.Init(context.Background(), pubsub.Metadata{Name: "ps", Properties: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	ps := pubsub.NewComponent("ps", "pubsub.in-memory", "v1", b, pubsub.Scopes{})
	props := map[string]string{"outboxPublishPubsub": "ps", "outboxPublishTopic": "test"}
	sc, ok, err := outbox.ParseStoreConfig("store", props)
	if err != nil || !ok {
		t.Fatalf("ParseStoreConfig: %v %v", ok, err)
	}
	box, err := outbox.New(outbox.Config{AppID: "outboxtest", Stores: []outbox.StoreConfig{sc}, StateStores: []*state.Component{store}, PubSubs: []*pubsub.Component{ps}})
	if err != nil {
		t.Fatal(err)
	}
	if err := box.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = box.Stop(context.Background()) })
	got := make(chan []byte, 10)
	subCtx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	err = b.Subscribe(subCtx, pubsub.SubscribeRequest{Topic: "test", Metadata: map[string]string{"consumerID": "subscriber"}},
		func(_ context.Context, m *pubsub.Message) error { got <- m.Data; return nil })
	if err != nil {
		t.Fatal(err)
	}
	core := api.New(api.Config{AppID: "outboxtest", StateStores: []*state.Component{store}, PubSubs: []*pubsub.Component{ps}, Outbox: box})

	req := txRequest("store", upsertOp("1", `"2"`, nil),
		&runtimev1.TransactionalStateOperation{OperationType: "delete", Request: &commonv1.StateItem{Key: "old"}})
	if err := core.ExecuteStateTransactionJSON(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	select {
	case data := <-got:
		ce, err := pubsub.ParseEnvelope(data)
		if err != nil {
			t.Fatal(err)
		}
		for k, want := range map[string]string{"data": "2", "datacontenttype": "application/json", "topic": "test", "pubsubname": "ps", "source": "outboxtest"} {
			if ce[k] != want {
				t.Errorf("%s = %v, want %q", k, ce[k], want)
			}
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event on the outbox topic")
	}
	if v := stored(t, core, "store", "1"); v != `"2"` {
		t.Errorf("stored %q", v)
	}
}
