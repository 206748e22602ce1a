package client

import (
	"context"
	"testing"
	"time"

	v1pb "github.com/dapr/dapr/pkg/proto/placement/v1"

	"github.com/outrigger/outrigger/internal/testutil"
)

// TestStallHoldsLookupsUntilFreshTable: after the process did not run for
// a while (simulated by aging the last tick), lookups wait, the stream is
// reopened, and the table placement sends on the new stream releases them.
func TestStallHoldsLookupsUntilFreshTable(t *testing.T) {
	f := startFake(t)
	rec := newRecorder()
	c := startClient(t, rec, func(o *Options) { o.LostGrace = time.Minute }, f.addr)
	s := f.accept(t)
	hosts := []string{"10.9.0.1:50002"}
	s.round(t, 1, tables(100, map[string][]string{"cart": hosts}))
	if _, err := c.LookupActor(context.Background(), "cart", "k"); err != nil {
		t.Fatal(err)
	}

	c.lastTick.Store(int64(time.Since(c.born) - 5*time.Second))
	held := lookupAsync(c, "cart", "k")
	expectPending(t, held)

	// The client reconnects to be told the current table.
	s2 := f.accept(t)
	expectPending(t, held)
	moved := []string{"10.9.0.2:50002"}
	s2.round(t, 2, tables(100, map[string][]string{"cart": moved}))
	r := expectResult(t, held)
	if r.err != nil || r.host.Name != moved[0] {
		t.Fatalf("lookup after the fresh table = %+v, %v; want %s", r.host, r.err, moved[0])
	}
}

// TestFirstTableOnNewStreamWaitsForUnlock: after a reconnect, even a type
// whose ring looks unchanged waits for the round's unlock, since another
// host may still be draining an actor that comes back here.
func TestFirstTableOnNewStreamWaitsForUnlock(t *testing.T) {
	f := startFake(t)
	proxy := testutil.StartProxy(t, f.addr)
	c := startClient(t, newRecorder(), func(o *Options) { o.LostGrace = time.Minute }, proxy.Addr())
	s := f.accept(t)
	hosts := []string{"10.9.0.1:50002"}
	s.round(t, 1, tables(100, map[string][]string{"cart": hosts}))

	proxy.Sever()
	s2 := f.accept(t)
	s2.order(opLock, 2, nil)
	s2.expectAck(t, v1pb.HostOperation_LOCK, 2)
	s2.order(opUpdate, 2, tables(100, map[string][]string{"cart": hosts}))
	s2.expectAck(t, v1pb.HostOperation_UPDATE, 2)
	held := lookupAsync(c, "cart", "k")
	expectPending(t, held)
	s2.order(opUnlock, 2, nil)
	s2.expectAck(t, v1pb.HostOperation_UNLOCK, 2)
	if r := expectResult(t, held); r.err != nil || r.host.Name != hosts[0] {
		t.Fatalf("lookup after unlock = %+v, %v", r.host, r.err)
	}
}
