package placement

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	v1pb "github.com/dapr/dapr/pkg/proto/placement/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

func TestMembershipAndRoundOrder(t *testing.T) {
	n := startLeader(t, Options{})
	a := dial(t, n.addr, "10.0.0.1:50002", []string{"Cart", "Order"})
	a.waitTable(map[string][]string{"Cart": {"10.0.0.1:50002"}, "Order": {"10.0.0.1:50002"}})
	b := dial(t, n.addr, "10.0.0.2:50002", []string{"Order"})
	want := map[string][]string{"Cart": {"10.0.0.1:50002"}, "Order": {"10.0.0.1:50002", "10.0.0.2:50002"}}
	va := a.waitTable(want)
	vb := b.waitTable(want)
	if va != vb {
		t.Errorf("hosts installed versions %d and %d, want the same", va, vb)
	}

	// Every version goes lock → update → unlock, versions only grow, and
	// each update carries its version's table with the replication factor.
	orders := a.waitOrders(6)
	var last uint64
	for i, o := range orders[:6] {
		wantOp := []string{opLock, opUpdate, opUnlock}[i%3]
		if o.GetOperation() != wantOp {
			t.Fatalf("order %d is %s, want %s; orders %s", i, o.GetOperation(), wantOp, describe(orders))
		}
		if i%3 == 0 && o.GetVersion() <= last && i > 0 {
			t.Fatalf("version did not grow: %s", describe(orders))
		}
		if i%3 != 0 && o.GetVersion() != orders[i-i%3].GetVersion() {
			t.Fatalf("phases of one round carry different versions: %s", describe(orders))
		}
		if o.GetOperation() == opUpdate {
			if got := o.GetTables().GetReplicationFactor(); got != DefaultReplicationFactor {
				t.Errorf("replication factor %d, want %d", got, DefaultReplicationFactor)
			}
			//lint:ignore SA1019 old sidecars read it
			if got := o.GetTables().GetVersion(); got != strconv.FormatUint(o.GetVersion(), 10) {
				t.Errorf("tables.version %q, order version %d", got, o.GetVersion())
			}
			host := o.GetTables().GetEntries()["Cart"].GetLoadMap()["10.0.0.1:50002"]
			if host.GetId() != "app-10.0.0.1:50002" || host.GetNamespace() != "default" {
				t.Errorf("load map host = %v", host)
			}
		}
		last = o.GetVersion()
	}

	// The replicated membership follows.
	state := n.svc.State()["default"]
	if len(state.Hosts) != 2 || state.Version != va {
		t.Errorf("replicated state = %+v, want 2 hosts at version %d", state, va)
	}
}

func TestUpdateWaitsForEveryLockAck(t *testing.T) {
	n := startLeader(t, Options{})
	a := dial(t, n.addr, "a:1", []string{"T"})
	a.waitTable(map[string][]string{"T": {"a:1"}})
	before := a.orderCount()

	m := dial(t, n.addr, "m:1", []string{"T"}, manualAcks)
	lock := m.waitOrders(1)[0]
	if lock.GetOperation() != opLock {
		t.Fatalf("first order to a joining host is %s, want lock", lock.GetOperation())
	}
	a.waitOrders(before + 1) // a got the lock and acknowledged it
	time.Sleep(300 * time.Millisecond)
	if got := a.orderCount(); got != before+1 {
		t.Fatalf("a received %d orders before m acknowledged the lock, want only the lock", got-before)
	}

	m.ack(v1pb.HostOperation_LOCK, lock.GetVersion())
	update := m.waitOrders(2)[1]
	if update.GetOperation() != opUpdate || update.GetVersion() != lock.GetVersion() {
		t.Fatalf("after the lock acks m got %s:%d", update.GetOperation(), update.GetVersion())
	}
	m.ack(v1pb.HostOperation_UPDATE, update.GetVersion())
	unlock := m.waitOrders(3)[2]
	if unlock.GetOperation() != opUnlock {
		t.Fatalf("after the update acks m got %s", unlock.GetOperation())
	}
	m.ack(v1pb.HostOperation_UNLOCK, unlock.GetVersion())
	a.waitTable(map[string][]string{"T": {"a:1", "m:1"}})
}

func TestNamespacesAreApart(t *testing.T) {
	n := startLeader(t, Options{})
	one := dial(t, n.addr, "h1:1", []string{"T"}, inNamespace("ns1"))
	two := dial(t, n.addr, "h2:1", []string{"T", "U"}, inNamespace("ns2"))
	one.waitTable(map[string][]string{"T": {"h1:1"}})
	two.waitTable(map[string][]string{"T": {"h2:1"}, "U": {"h2:1"}})

	// A change in ns2 disseminates nothing to ns1.
	before := one.orderCount()
	two.report([]string{"U"})
	two.waitTable(map[string][]string{"U": {"h2:1"}})
	if got := one.orderCount(); got != before {
		t.Errorf("ns1 host received %d orders for a change in ns2", got-before)
	}
	if s := n.svc.State(); len(s["ns1"].Hosts) != 1 || len(s["ns2"].Hosts) != 1 {
		t.Errorf("replicated state = %+v", s)
	}
}

func TestDisconnectedHostIsRemoved(t *testing.T) {
	n := startLeader(t, Options{HostGracePeriod: 200 * time.Millisecond})
	a := dial(t, n.addr, "a:1", []string{"T"})
	b := dial(t, n.addr, "b:1", []string{"T", "U"})
	a.waitTable(map[string][]string{"T": {"a:1", "b:1"}, "U": {"b:1"}})

	b.close()
	a.waitTable(map[string][]string{"T": {"a:1"}})
	eventually(t, "b leaves the replicated state", func() bool {
		return len(n.svc.State()["default"].Hosts) == 1
	})
}

func TestFlappingHostCausesNoRound(t *testing.T) {
	n := startLeader(t, Options{HostGracePeriod: time.Minute})
	a := dial(t, n.addr, "a:1", []string{"T"})
	b := dial(t, n.addr, "b:1", []string{"T"})
	version := a.waitTable(map[string][]string{"T": {"a:1", "b:1"}})
	before := a.orderCount()

	// b's stream drops and comes back with the same actor types: the table
	// is unchanged, so b just receives it and a sees nothing.
	for range 3 {
		b.close()
		b = dial(t, n.addr, "b:1", []string{"T"})
		if got := b.waitTable(map[string][]string{"T": {"a:1", "b:1"}}); got != version {
			t.Errorf("reconnected host got version %d, want the unchanged %d", got, version)
		}
	}
	if got := a.orderCount(); got != before {
		t.Errorf("a received %d orders while b flapped", got-before)
	}
}

func TestHostThatNeverAcksIsDropped(t *testing.T) {
	n := startLeader(t, Options{DisseminateTimeout: 500 * time.Millisecond})
	a := dial(t, n.addr, "a:1", []string{"T"})
	before := a.waitTable(map[string][]string{"T": {"a:1"}})

	silent := dial(t, n.addr, "silent:1", []string{"T", "S"}, manualAcks)
	if st := silent.waitEnd(); st.Code() != codes.DeadlineExceeded {
		t.Errorf("silent host's stream ended with %v, want DeadlineExceeded", st)
	}
	// The round silent blocked is abandoned; a fresh one completes without it.
	a.waitTableAfter(map[string][]string{"T": {"a:1"}}, before+1)
	select {
	case <-a.ended:
		t.Errorf("the host that answered was dropped too: %v", a.waitEnd())
	default:
	}
	eventually(t, "silent host leaves the replicated state", func() bool {
		return len(n.svc.State()["default"].Hosts) == 1
	})
}

func TestHostWithoutActorsGetsTable(t *testing.T) {
	n := startLeader(t, Options{})
	a := dial(t, n.addr, "a:1", []string{"T"})
	version := a.waitTable(map[string][]string{"T": {"a:1"}})
	before := a.orderCount()

	// A sidecar hosting no actors still needs the table to call actors,
	// without changing it for anyone else.
	caller := dial(t, n.addr, "caller:1", nil)
	if got := caller.waitTable(map[string][]string{"T": {"a:1"}}); got != version {
		t.Errorf("caller got version %d, want %d", got, version)
	}
	if got := a.orderCount(); got != before {
		t.Errorf("a received %d orders when a caller joined", got-before)
	}

	// When it starts hosting actors, everyone gets a new table.
	caller.report([]string{"U"})
	a.waitTable(map[string][]string{"T": {"a:1"}, "U": {"caller:1"}})
}

func TestSameHostReplacesItsOldStream(t *testing.T) {
	n := startLeader(t, Options{})
	old := dial(t, n.addr, "h:1", []string{"T"})
	old.waitTable(map[string][]string{"T": {"h:1"}})
	fresh := dial(t, n.addr, "h:1", []string{"T"})
	fresh.waitTable(map[string][]string{"T": {"h:1"}})
	if st := old.waitEnd(); st.Code() != codes.Aborted {
		t.Errorf("old stream ended with %v, want Aborted", st)
	}
}

func TestRegistrationIsValidated(t *testing.T) {
	n := startLeader(t, Options{})
	tests := []struct {
		name string
		host *v1pb.Host
	}{
		{"no app ID", &v1pb.Host{Name: "h:1", Namespace: "default"}},
		{"no namespace", &v1pb.Host{Name: "h:1", Id: "app"}},
		{"no name", &v1pb.Host{Id: "app", Namespace: "default"}},
		{"version without operation", &v1pb.Host{Name: "h:1", Id: "app", Namespace: "default", Version: new(uint64)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := grpc.NewClient(n.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			stream, err := v1pb.NewPlacementClient(conn).ReportDaprStatus(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.Send(tt.host); err != nil {
				t.Fatal(err)
			}
			_, err = stream.Recv()
			if code := status.Code(err); code != codes.InvalidArgument {
				t.Errorf("got %v, want InvalidArgument", err)
			}
		})
	}
}

func TestHealthAndMetricsEndpoints(t *testing.T) {
	n := startLeader(t, Options{})
	a := dial(t, n.addr, "a:1", []string{"T"}, inNamespace("shop"))
	dial(t, n.addr, "b:1", nil, inNamespace("shop"))
	a.waitTable(map[string][]string{"T": {"a:1"}})

	health := httptest.NewServer(n.svc.HealthHandler(true))
	defer health.Close()
	if code, _ := get(t, health.URL+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
	if code, body := get(t, health.URL+"/placement/state"); code != http.StatusOK || !strings.Contains(body, `"shop"`) || !strings.Contains(body, `"a:1"`) {
		t.Errorf("/placement/state = %d %s", code, body)
	}

	metrics := httptest.NewServer(n.svc.MetricsHandler())
	defer metrics.Close()
	eventually(t, "metrics count both sidecars", func() bool {
		_, body := get(t, metrics.URL)
		return strings.Contains(body, `dapr_placement_runtimes_total{host_namespace="shop"} 2`) &&
			strings.Contains(body, `dapr_placement_actor_runtimes_total{host_namespace="shop"} 1`) &&
			strings.Contains(body, "\ndapr_placement_leader_status 1")
	})

	noMeta := httptest.NewServer(n.svc.HealthHandler(false))
	defer noMeta.Close()
	if code, _ := get(t, noMeta.URL+"/placement/state"); code != http.StatusNotFound {
		t.Errorf("/placement/state without metadata = %d, want 404", code)
	}
}

func TestOldSidecarAcksWithoutOperation(t *testing.T) {
	n := startLeader(t, Options{})
	a := dial(t, n.addr, "a:1", []string{"T"})
	a.waitTable(map[string][]string{"T": {"a:1"}})

	// A pre-1.18 sidecar answers every order with a plain host report.
	old := dial(t, n.addr, "old:1", []string{"T"}, manualAcks)
	for i := 1; i <= 3; i++ {
		old.waitOrders(i)
		if err := old.send(&v1pb.Host{Name: "old:1", Id: "app-old", Namespace: "default", Entities: []string{"T"}}); err != nil {
			t.Fatal(err)
		}
	}
	a.waitTable(map[string][]string{"T": {"a:1", "old:1"}})
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
