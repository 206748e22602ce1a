package membership

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"testing"

	"github.com/hashicorp/raft"
)

func put(t *testing.T, f *fsm, ns string, state Namespace) {
	t.Helper()
	data, err := json.Marshal(putCommand{Namespace: ns, State: state})
	if err != nil {
		t.Fatal(err)
	}
	if res := f.Apply(&raft.Log{Data: data}); res != nil {
		t.Fatalf("Apply = %v", res)
	}
}

func TestFSMApplyAndCopies(t *testing.T) {
	f := newFSM()
	a := Namespace{Version: 3, Hosts: []Host{{Name: "a:1", AppID: "a", Namespace: "ns1", Entities: []string{"T"}}}}
	put(t, f, "ns1", a)
	put(t, f, "ns2", Namespace{Version: 1, Hosts: []Host{{Name: "b:1", AppID: "b", Namespace: "ns2", Entities: []string{"U"}}}})
	put(t, f, "ns2", Namespace{}) // empty state removes the namespace

	got := f.state()
	if len(got) != 1 || !reflect.DeepEqual(got["ns1"], a) {
		t.Fatalf("state = %+v", got)
	}
	// The state handed out is a copy.
	got["ns1"].Hosts[0].Entities[0] = "changed"
	if f.state()["ns1"].Hosts[0].Entities[0] != "T" {
		t.Error("state() exposed the FSM's own slices")
	}
	if res := f.Apply(&raft.Log{Data: []byte("not json")}); res == nil {
		t.Error("Apply accepted a corrupt entry")
	}
}

type memorySink struct {
	bytes.Buffer
	cancelled bool
}

func (s *memorySink) ID() string    { return "test" }
func (s *memorySink) Cancel() error { s.cancelled = true; return nil }
func (s *memorySink) Close() error  { return nil }

func TestFSMSnapshotRestore(t *testing.T) {
	f := newFSM()
	want := Namespace{Version: 7, Hosts: []Host{{Name: "a:1", AppID: "a", Namespace: "default", Entities: []string{"T", "U"}, UpdatedAt: 42}}}
	put(t, f, "default", want)
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Changes after the snapshot do not leak into it.
	put(t, f, "other", Namespace{Version: 1, Hosts: []Host{{Name: "x:1"}}})
	var sink memorySink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}

	restored := newFSM()
	put(t, restored, "stale", Namespace{Version: 9, Hosts: []Host{{Name: "s:1"}}})
	if err := restored.Restore(io.NopCloser(&sink.Buffer)); err != nil {
		t.Fatal(err)
	}
	got := restored.state()
	if len(got) != 1 || !reflect.DeepEqual(got["default"], want) {
		t.Errorf("restored state = %+v, want only default = %+v", got, want)
	}
}
