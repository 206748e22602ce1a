package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	v1pb "github.com/dapr/dapr/pkg/proto/placement/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/outrigger/outrigger/internal/actors"
	"github.com/outrigger/outrigger/internal/placement/hashing"
	"github.com/outrigger/outrigger/internal/testutil"
)

// ownerOf is the owner the ring of hosts gives id.
func ownerOf(factor int, hosts []string, id string) string {
	members := map[string]hashing.Host{}
	for _, h := range hosts {
		members[h] = hashing.Host{Name: h}
	}
	h, _ := hashing.NewRing(members, factor, nil).Lookup(id)
	return h.Name
}

func TestRegistration(t *testing.T) {
	f := startFake(t)
	c := startClient(t, nil, func(o *Options) { o.Namespace = "prod" }, f.addr)
	c.SetHostedTypes([]string{"cart", "order"})
	s := f.accept(t)
	h := s.first
	// The client may connect before SetHostedTypes runs; then its first
	// report is empty and the one SetHostedTypes asks for carries the types.
	if len(h.GetEntities()) == 0 {
		h = s.next(t)
	}
	if h.GetName() != "10.9.0.1:50002" || h.GetPort() != 50002 || h.GetId() != "myapp" || h.GetNamespace() != "prod" {
		t.Errorf("registration = %v", h)
	}
	//lint:ignore SA1019 deprecated field that Dapr 1.18 still sends
	if h.GetApiLevel() != apiLevel || h.GetOperation() != v1pb.HostOperation_REPORT || h.Version != nil {
		t.Errorf("registration = %v, want api level %d, REPORT, no version", h, apiLevel)
	}
	if !slices.Equal(h.GetEntities(), []string{"cart", "order"}) {
		t.Errorf("entities = %v", h.GetEntities())
	}
	if got := c.Host(); got != (actors.Host{Name: "10.9.0.1:50002", AppID: "myapp", Namespace: "prod"}) {
		t.Errorf("Host() = %+v", got)
	}
}

func TestFirstTableAndLookups(t *testing.T) {
	f := startFake(t)
	rec := newRecorder()
	c := startClient(t, rec, nil, f.addr)
	s := f.accept(t)

	// Before the first table, lookups wait.
	early := lookupAsync(c, "cart", "c-1")
	expectPending(t, early)
	if c.Ready() || c.Status().Connected {
		t.Fatal("ready before placement answered")
	}

	hosts := []string{"10.9.0.1:50002", "10.9.0.2:50002", "10.9.0.3:50002"}
	s.order(opLock, 1, nil)
	s.expectAck(t, v1pb.HostOperation_LOCK, 1)
	expectPending(t, early)
	s.order(opUpdate, 1, tables(100, map[string][]string{"cart": hosts}))
	rec.expect(t, "updated")
	s.expectAck(t, v1pb.HostOperation_UPDATE, 1)
	// Every type of the first table is new, so it stays locked until unlock.
	expectPending(t, early)
	s.order(opUnlock, 1, nil)
	s.expectAck(t, v1pb.HostOperation_UNLOCK, 1)

	r := expectResult(t, early)
	if r.err != nil || r.host.Name != ownerOf(100, hosts, "c-1") || r.host.AppID != "app-"+r.host.Name {
		t.Fatalf("lookup = %+v, %v; want %s", r.host, r.err, ownerOf(100, hosts, "c-1"))
	}
	for i := range 50 {
		id := fmt.Sprintf("cart-%d", i)
		h, err := c.LookupActor(context.Background(), "cart", id)
		if err != nil || h.Name != ownerOf(100, hosts, id) || h.Namespace != "default" {
			t.Fatalf("LookupActor(cart, %s) = %+v, %v; want %s", id, h, err, ownerOf(100, hosts, id))
		}
	}
	if _, err := c.LookupActor(context.Background(), "unknown", "x"); !errors.Is(err, actors.ErrNoHost) {
		t.Fatalf("lookup of an unhosted type: %v, want ErrNoHost", err)
	}
	st := c.Status()
	if !st.Ready || !st.Connected || st.Lost || st.TableVersion != 1 || st.Address != f.addr || !c.Connected() {
		t.Fatalf("status = %+v", st)
	}
}

func TestLookupWaitIsBoundedByContext(t *testing.T) {
	f := startFake(t)
	c := startClient(t, nil, nil, f.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.LookupActor(ctx, "cart", "1")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("lookup without a table = %v, want deadline exceeded", err)
	}
}

func TestChangedTypesWaitForUnlock(t *testing.T) {
	f := startFake(t)
	c := startClient(t, newRecorder(), nil, f.addr)
	s := f.accept(t)
	before := []string{"10.9.0.1:50002", "10.9.0.2:50002"}
	after := []string{"10.9.0.1:50002", "10.9.0.2:50002", "10.9.0.3:50002"}
	s.round(t, 1, tables(100, map[string][]string{"cart": before, "order": before}))

	// During lock, the old table still answers.
	s.order(opLock, 2, nil)
	s.expectAck(t, v1pb.HostOperation_LOCK, 2)
	if h, err := c.LookupActor(context.Background(), "cart", "k"); err != nil || h.Name != ownerOf(100, before, "k") {
		t.Fatalf("lookup during lock = %+v, %v", h, err)
	}

	// The update moves cart: its lookups wait for unlock; order's do not.
	s.order(opUpdate, 2, tables(100, map[string][]string{"cart": after, "order": before}))
	s.expectAck(t, v1pb.HostOperation_UPDATE, 2)
	locked := lookupAsync(c, "cart", "k")
	expectPending(t, locked)
	if h, err := c.LookupActor(context.Background(), "order", "k"); err != nil || h.Name != ownerOf(100, before, "k") {
		t.Fatalf("lookup of an unchanged type during the round = %+v, %v", h, err)
	}
	if h, err := c.LookupActorNow("cart", "k"); err != nil || h.Name != ownerOf(100, after, "k") {
		t.Fatalf("LookupActorNow during the round = %+v, %v; want the new table", h, err)
	}
	s.order(opUnlock, 2, nil)
	s.expectAck(t, v1pb.HostOperation_UNLOCK, 2)
	if r := expectResult(t, locked); r.err != nil || r.host.Name != ownerOf(100, after, "k") {
		t.Fatalf("lookup after unlock = %+v, %v", r.host, r.err)
	}
	if v := c.Status().TableVersion; v != 2 {
		t.Fatalf("table version %d, want 2", v)
	}
}

func TestFoldedRoundsUnlockEveryChangedType(t *testing.T) {
	f := startFake(t)
	c := startClient(t, nil, nil, f.addr)
	s := f.accept(t)
	one := []string{"10.9.0.1:50002"}
	two := []string{"10.9.0.1:50002", "10.9.0.2:50002"}
	s.round(t, 1, tables(10, map[string][]string{"a": one, "b": one}))

	// Placement may send lock+update twice before one unlock; a type
	// changed by the first update stays locked until that unlock.
	s.order(opLock, 2, nil)
	s.expectAck(t, v1pb.HostOperation_LOCK, 2)
	s.order(opUpdate, 2, tables(10, map[string][]string{"a": two, "b": one}))
	s.expectAck(t, v1pb.HostOperation_UPDATE, 2)
	s.order(opLock, 3, nil)
	s.expectAck(t, v1pb.HostOperation_LOCK, 3)
	s.order(opUpdate, 3, tables(10, map[string][]string{"a": two, "b": two}))
	s.expectAck(t, v1pb.HostOperation_UPDATE, 3)
	a, b := lookupAsync(c, "a", "x"), lookupAsync(c, "b", "x")
	expectPending(t, a)
	expectPending(t, b)
	s.order(opUnlock, 3, nil)
	s.expectAck(t, v1pb.HostOperation_UNLOCK, 3)
	for _, ch := range []<-chan lookupResult{a, b} {
		if r := expectResult(t, ch); r.err != nil || r.host.Name != ownerOf(10, two, "x") {
			t.Fatalf("lookup after unlock = %+v, %v", r.host, r.err)
		}
	}
}

func TestTableUpdatedRunsBeforeUpdateAck(t *testing.T) {
	f := startFake(t)
	rec := newRecorder()
	c := startClient(t, rec, nil, f.addr)
	s := f.accept(t)
	hosts := []string{"10.9.0.1:50002", "10.9.0.2:50002"}

	gate := make(chan struct{})
	var seen actors.Host
	rec.mu.Lock()
	rec.gate = gate
	rec.during = func() { seen, _ = c.LookupActorNow("cart", "k") }
	rec.mu.Unlock()

	s.order(opLock, 1, nil)
	s.expectAck(t, v1pb.HostOperation_LOCK, 1)
	s.order(opUpdate, 1, tables(100, map[string][]string{"cart": hosts}))
	rec.expect(t, "updated")
	s.noAck(t) // TableUpdated still running: no ack yet
	close(gate)
	s.expectAck(t, v1pb.HostOperation_UPDATE, 1)
	if seen.Name != ownerOf(100, hosts, "k") {
		t.Fatalf("inside TableUpdated the table gave %+v, want the new owner %s", seen, ownerOf(100, hosts, "k"))
	}
}

func TestFailoverBetweenAddresses(t *testing.T) {
	follower, leader := startFake(t), startFake(t)
	follower.refuse.Store(true)
	// An address nothing listens on comes first.
	dead := testutil.StartProxy(t, "127.0.0.1:1")
	dead.SetRefuse(true)
	c := startClient(t, nil, nil, dead.Addr(), follower.addr, leader.addr)
	s := leader.accept(t)
	s.round(t, 1, tables(100, map[string][]string{"cart": {"10.9.0.1:50002"}}))
	eventually(t, "connected to the leader", func() bool { return c.Status().Address == leader.addr && c.Ready() })

	// Leadership moves: the old leader drops the stream and refuses, the
	// follower takes over.
	leader.refuse.Store(true)
	follower.refuse.Store(false)
	s.end <- status.Error(codes.Unavailable, "leadership lost")
	s2 := follower.accept(t)
	s2.round(t, 2, tables(100, map[string][]string{"cart": {"10.9.0.1:50002"}}))
	eventually(t, "connected to the new leader", func() bool { return c.Status().Address == follower.addr && c.Ready() })
}

func TestPlacementLostAfterGraceAndRecovered(t *testing.T) {
	f := startFake(t)
	proxy := testutil.StartProxy(t, f.addr)
	rec := newRecorder()
	c := startClient(t, rec, func(o *Options) { o.LostGrace = 200 * time.Millisecond }, proxy.Addr())
	s := f.accept(t)
	hosts := []string{"10.9.0.1:50002"}
	s.round(t, 1, tables(100, map[string][]string{"cart": hosts}))
	rec.expect(t, "updated")

	proxy.SetRefuse(true)
	proxy.Sever()
	rec.expect(t, "lost")
	_, err := c.LookupActor(context.Background(), "cart", "k")
	if !errors.Is(err, ErrPlacementUnreachable) {
		t.Fatalf("lookup while lost = %v, want ErrPlacementUnreachable", err)
	}
	if st := c.Status(); !st.Lost || st.Connected || st.Ready {
		t.Fatalf("status while lost = %+v", st)
	}

	// Back again: lookups work once a new table arrived.
	proxy.SetRefuse(false)
	s2 := f.accept(t)
	s2.round(t, 2, tables(100, map[string][]string{"cart": hosts}))
	rec.expect(t, "updated")
	if h, err := c.LookupActor(context.Background(), "cart", "k"); err != nil || h.Name != hosts[0] {
		t.Fatalf("lookup after recovery = %+v, %v", h, err)
	}
	if st := c.Status(); st.Lost || !st.Ready || st.TableVersion != 2 {
		t.Fatalf("status after recovery = %+v", st)
	}
	if _, losses := rec.counts(); losses != 1 {
		t.Fatalf("PlacementLost ran %d times, want 1", losses)
	}
}

func TestQuickReconnectKeepsActors(t *testing.T) {
	f := startFake(t)
	proxy := testutil.StartProxy(t, f.addr)
	rec := newRecorder()
	c := startClient(t, rec, func(o *Options) { o.LostGrace = time.Minute }, proxy.Addr())
	s := f.accept(t)
	hosts := []string{"10.9.0.1:50002"}
	s.round(t, 1, tables(100, map[string][]string{"cart": hosts}))

	proxy.Sever()
	s2 := f.accept(t)
	// While reconnected but before a new table, the old one answers.
	if h, err := c.LookupActor(context.Background(), "cart", "k"); err != nil || h.Name != hosts[0] {
		t.Fatalf("lookup within the grace period = %+v, %v", h, err)
	}
	s2.round(t, 2, tables(100, map[string][]string{"cart": hosts}))
	if _, losses := rec.counts(); losses != 0 {
		t.Fatalf("PlacementLost ran %d times after a quick reconnect", losses)
	}
}

func TestSetHostedTypesReportsAtOnce(t *testing.T) {
	f := startFake(t)
	c := startClient(t, nil, func(o *Options) { o.HeartbeatInterval = time.Hour }, f.addr)
	s := f.accept(t)
	if len(s.first.GetEntities()) != 0 {
		t.Fatalf("first report has entities %v", s.first.GetEntities())
	}
	tests := []struct {
		name  string
		types []string
	}{
		{"hosts types", []string{"cart", "order"}},
		{"app unhealthy", nil},
		{"healthy again", []string{"cart"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.SetHostedTypes(tc.types)
			h := s.next(t)
			if h.GetOperation() != v1pb.HostOperation_REPORT || !slices.Equal(h.GetEntities(), tc.types) || h.GetName() != "10.9.0.1:50002" {
				t.Fatalf("report = %v, want entities %v", h, tc.types)
			}
		})
	}
}

func TestHeartbeats(t *testing.T) {
	f := startFake(t)
	c := startClient(t, nil, func(o *Options) { o.HeartbeatInterval = 20 * time.Millisecond }, f.addr)
	s := f.accept(t)
	// A host without types reports only on change.
	s.noAck(t)
	select {
	case h := <-s.recv:
		t.Fatalf("host without types sent %v", h)
	default:
	}
	c.SetHostedTypes([]string{"cart"})
	for range 3 {
		if h := s.next(t); h.GetOperation() != v1pb.HostOperation_REPORT || !slices.Equal(h.GetEntities(), []string{"cart"}) {
			t.Fatalf("heartbeat = %v", h)
		}
	}
}

func TestRoundTimeoutReconnects(t *testing.T) {
	f := startFake(t)
	startClient(t, nil, func(o *Options) { o.DisseminateTimeout = 100 * time.Millisecond }, f.addr)
	s := f.accept(t)
	s.order(opLock, 1, nil)
	s.expectAck(t, v1pb.HostOperation_LOCK, 1)
	// No update follows: the sidecar gives the stream up and comes back.
	s2 := f.accept(t)
	if s2.first.GetOperation() != v1pb.HostOperation_REPORT {
		t.Fatalf("new stream starts with %v", s2.first)
	}
	select {
	case <-s.done:
	case <-time.After(wait):
		t.Fatal("the timed-out stream stayed open")
	}
}

func TestBadOrdersCloseTheStream(t *testing.T) {
	tests := []struct {
		name   string
		orders []*v1pb.PlacementOrder
	}{
		{"unknown operation", []*v1pb.PlacementOrder{{Operation: "explode", Version: 1}}},
		{"update older than lock", []*v1pb.PlacementOrder{{Operation: opLock, Version: 5}, {Operation: opUpdate, Version: 4, Tables: tables(1, nil)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t)
			startClient(t, nil, nil, f.addr)
			s := f.accept(t)
			for _, o := range tc.orders {
				s.send <- o
			}
			f.accept(t) // reconnected
			select {
			case <-s.done:
			case <-time.After(wait):
				t.Fatal("the stream stayed open")
			}
		})
	}
}

func TestStrayUnlockIsIgnored(t *testing.T) {
	f := startFake(t)
	c := startClient(t, nil, nil, f.addr)
	s := f.accept(t)
	s.order(opUnlock, 1, nil) // no update before it
	s.round(t, 2, tables(10, map[string][]string{"cart": {"10.9.0.1:50002"}}))
	if !c.Ready() {
		t.Fatal("not ready after a round")
	}
}

func TestLegacyTableVersion(t *testing.T) {
	f := startFake(t)
	c := startClient(t, nil, nil, f.addr)
	s := f.accept(t)
	// Placements before Dapr 1.14 send the version only in the tables.
	legacy := func(tb *v1pb.PlacementTables) *v1pb.PlacementTables {
		//lint:ignore SA1019 the deprecated field is what is tested
		tb.Version = "7"
		return tb
	}
	s.order(opLock, 0, legacy(&v1pb.PlacementTables{}))
	s.expectAck(t, v1pb.HostOperation_LOCK, 7)
	s.order(opUpdate, 0, legacy(tables(10, map[string][]string{"cart": {"10.9.0.1:50002"}})))
	s.expectAck(t, v1pb.HostOperation_UPDATE, 7)
	s.order(opUnlock, 0, legacy(&v1pb.PlacementTables{}))
	s.expectAck(t, v1pb.HostOperation_UNLOCK, 7)
	if v := c.Status().TableVersion; v != 7 {
		t.Fatalf("table version %d, want 7", v)
	}
}

func TestRunEndsWithContext(t *testing.T) {
	f := startFake(t)
	c, err := New(Options{Addresses: []string{f.addr}, HostAddress: "10.9.0.1", Port: 50002, AppID: "myapp"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	s := f.accept(t)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(wait):
		t.Fatal("Run did not return")
	}
	select {
	case <-s.done:
	case <-time.After(wait):
		t.Fatal("stream still open after Run returned")
	}
	if err := c.Run(context.Background()); err == nil {
		t.Fatal("a second Run was accepted")
	}
}

func TestNewValidates(t *testing.T) {
	good := Options{Addresses: []string{"p:50005"}, HostAddress: "10.0.0.1", Port: 50002, AppID: "a"}
	tests := []struct {
		name   string
		change func(*Options)
		ok     bool
	}{
		{"valid", func(*Options) {}, true},
		{"no address", func(o *Options) { o.Addresses = nil }, false},
		{"no host", func(o *Options) { o.HostAddress = "" }, false},
		{"no port", func(o *Options) { o.Port = 0 }, false},
		{"no app id", func(o *Options) { o.AppID = "" }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			tc.change(&o)
			c, err := New(o)
			if (err == nil) != tc.ok {
				t.Fatalf("New: %v", err)
			}
			if tc.ok && c.Host().Namespace != DefaultNamespace {
				t.Fatalf("namespace %q, want %q", c.Host().Namespace, DefaultNamespace)
			}
		})
	}
}

func TestParseAddresses(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"localhost:50005", []string{"localhost:50005"}},
		{"a:1, b:2 ,c:3", []string{"a:1", "b:2", "c:3"}},
		{`"a:1",,'b:2'`, []string{"a:1", "b:2"}},
		{`""`, nil},
	}
	for _, tc := range tests {
		if got := ParseAddresses(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("ParseAddresses(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestReconnectDelay(t *testing.T) {
	tests := []struct {
		turn     int
		min, max time.Duration
	}{
		{1, 400 * time.Millisecond, 600 * time.Millisecond},
		{2, 800 * time.Millisecond, 1200 * time.Millisecond},
		{10, 4 * time.Second, 6 * time.Second},
	}
	for _, tc := range tests {
		for range 20 {
			if d := reconnectDelay(tc.turn); d < tc.min || d > tc.max {
				t.Fatalf("reconnectDelay(%d) = %s, want within [%s, %s]", tc.turn, d, tc.min, tc.max)
			}
		}
	}
}

// BenchmarkLookupActor measures the hot path every actor call takes.
func BenchmarkLookupActor(b *testing.B) {
	c, err := New(Options{Addresses: []string{"p:1"}, HostAddress: "10.0.0.1", Port: 1, AppID: "a"})
	if err != nil {
		b.Fatal(err)
	}
	var hosts []string
	for i := range 10 {
		hosts = append(hosts, fmt.Sprintf("10.5.0.%d:50002", i))
	}
	c.mu.Lock()
	c.publish(func(v *view) {
		v.rings = buildRings(tables(100, map[string][]string{"cart": hosts, "order": hosts}), hashing.NewVirtualNodeCache())
		v.hasTable = true
	})
	c.mu.Unlock()
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = fmt.Sprintf("cart-%d", i)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := c.LookupActor(ctx, "cart", ids[i%len(ids)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
