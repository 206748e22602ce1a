package e2e

import (
	"context"
	"syscall"
	"testing"
	"time"
)

// TestActorsThawedSidecarStaleTable freezes a host until placement has
// given its actors away, thaws it and at once calls one of those actors
// through it: the thawed sidecar must not run the actor on its stale table
// while the new owner has it active.
func TestActorsThawedSidecarStaleTable(t *testing.T) {
	pl := singlePlacement(t)
	c := newActCluster(t, pl.addr)
	c.addHost()
	c.addHost()
	owners := c.waitSpread(actIDs("z", 20), 0, []int{0, 1}, 30*time.Second)
	var moved string
	for id, h := range owners {
		if h == "h1" {
			moved = id
		}
	}
	if moved == "" {
		t.Fatal("no actor landed on h1")
	}
	c.cars[1].signal(t, syscall.SIGSTOP)
	c.rec.cutFrozen("h1")
	if _, err := c.waitAnswered(moved, []int{0}, 30*time.Second, func(h string) bool { return h == "h0" }); err != nil {
		c.cars[1].signal(t, syscall.SIGCONT)
		t.Fatal(err)
	}
	c.cars[1].signal(t, syscall.SIGCONT)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, _ = c.call(ctx, 1, moved, "work", 0)
	time.Sleep(2 * time.Second)
	c.rec.checkExclusive(t)
}
