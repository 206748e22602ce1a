package sidecar

import (
	"testing"

	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/memory"
)

func TestStableInternalPort(t *testing.T) {
	a, b := stableInternalPort("orders"), stableInternalPort("orders")
	if a != b {
		t.Fatalf("not stable: %d vs %d", a, b)
	}
	if a < stablePortBase || a >= stablePortBase+stablePortRange {
		t.Fatalf("port %d out of range", a)
	}
	if stableInternalPort("payments") == a && stableInternalPort("shipping") == a {
		t.Fatal("different app ids all map to one port")
	}
}

func TestListenInternalFallsBackWhenBusy(t *testing.T) {
	first, err := listenInternal("127.0.0.1", 0, "busy-app")
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := listenInternal("127.0.0.1", 0, "busy-app")
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if first.Addr().String() == second.Addr().String() {
		t.Fatal("same address twice")
	}
}

func TestDeniedType(t *testing.T) {
	tests := []struct {
		denied       []string
		typ, version string
		want         bool
	}{
		{[]string{"state.redis"}, "state.redis", "v1", true},
		{[]string{"state.redis/v2"}, "state.redis", "v1", false},
		{[]string{"state.redis/v1"}, "state.redis", "", true},
		{[]string{"STATE.REDIS"}, "state.redis", "v1", true},
		{nil, "state.redis", "v1", false},
	}
	for _, tt := range tests {
		if got := deniedType(tt.denied, tt.typ, tt.version); got != tt.want {
			t.Errorf("deniedType(%v, %s, %s) = %v", tt.denied, tt.typ, tt.version, got)
		}
	}
}

func TestCheckActorStores(t *testing.T) {
	mk := func(name string, actor bool) *state.Component {
		keys, _ := state.NewKeyScheme("", "app", name, "")
		return state.NewComponent(name, "state.in-memory", "v1", memory.New(), keys, actor)
	}
	if err := checkActorStores([]*state.Component{mk("a", true), mk("b", false)}); err != nil {
		t.Fatal(err)
	}
	if err := checkActorStores([]*state.Component{mk("a", true), mk("b", true)}); err == nil {
		t.Fatal("two actor stores accepted")
	}
}
