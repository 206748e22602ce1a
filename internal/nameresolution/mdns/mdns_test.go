package mdns

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/net/ipv4"

	"github.com/outrigger/outrigger/internal/nameresolution"
)

// requireMulticast checks that a multicast packet sent on ifaces comes back
// to a listener on this host. Without it the tests skip, or fail when
// CI=true, where the build machines are expected to allow it.
func requireMulticast(t *testing.T, ifaces []net.Interface) {
	t.Helper()
	if err := multicastWorks(ifaces); err != nil {
		msg := fmt.Sprintf("multicast on interfaces %s does not work here (%v); mDNS needs it", ifaceNames(ifaces), err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

func multicastWorks(ifaces []net.Interface) error {
	// A free port, so the probe never mixes with real mDNS traffic.
	probe, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		return err
	}
	port := probe.LocalAddr().(*net.UDPAddr).Port
	probe.Close()
	group := &net.UDPAddr{IP: groupV4.IP, Port: port}
	var first *net.Interface
	if len(ifaces) > 0 {
		first = &ifaces[0]
	}
	l, err := net.ListenMulticastUDP("udp4", first, group)
	if err != nil {
		return fmt.Errorf("join group: %w", err)
	}
	defer l.Close()
	s, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		return err
	}
	defer s.Close()
	pc := ipv4.NewPacketConn(s)
	if first != nil {
		if err := pc.SetMulticastInterface(first); err != nil {
			return err
		}
	}
	if _, err := pc.WriteTo([]byte("probe"), nil, group); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	l.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	buf := make([]byte, 16)
	if _, _, err := l.ReadFromUDP(buf); err != nil {
		return fmt.Errorf("receive: %w", err)
	}
	return nil
}

func loopback(t *testing.T) []net.Interface {
	t.Helper()
	all, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifi := range all {
		if ifi.Flags&net.FlagLoopback != 0 && ifi.Flags&net.FlagUp != 0 {
			return []net.Interface{ifi}
		}
	}
	t.Skip("no loopback interface")
	return nil
}

// uniqueID keeps concurrent test runs on one machine from seeing each
// other's sidecars.
func uniqueID(name string) string {
	return fmt.Sprintf("%s-%08x", name, rand.Uint32())
}

type opts struct {
	ifaces   []net.Interface
	cacheTTL time.Duration
}

func start(t *testing.T, appID string, port int, o opts) *Resolver {
	t.Helper()
	r := New()
	r.ifaces = o.ifaces
	r.browseTimeout = 500 * time.Millisecond
	r.settle = 80 * time.Millisecond
	if o.cacheTTL > 0 {
		r.cacheTTL = o.cacheTTL
	}
	host := "127.0.0.1"
	if o.ifaces == nil {
		var err error
		if host, err = nameresolution.HostAddress(""); err != nil {
			t.Fatal(err)
		}
	}
	err := r.Init(context.Background(), nameresolution.Metadata{Instance: nameresolution.Instance{
		AppID: appID, HostAddress: host, DaprInternalPort: port,
	}})
	if err != nil {
		t.Fatalf("Init %s: %v", appID, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func resolve(t *testing.T, r *Resolver, id string) string {
	t.Helper()
	addr, err := r.Resolve(context.Background(), nameresolution.Request{ID: id, Namespace: "ignored"})
	if err != nil {
		t.Fatalf("Resolve(%s): %v", id, err)
	}
	return addr
}

func distinct(t *testing.T, r *Resolver, id string, n int) string {
	t.Helper()
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		seen[resolve(t, r, id)] = true
	}
	var out []string
	for a := range seen {
		out = append(out, a)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestResolveOnLoopback(t *testing.T) {
	lo := loopback(t)
	requireMulticast(t, lo)
	caller, orders, billing := uniqueID("caller"), uniqueID("orders"), uniqueID("billing")
	c := start(t, caller, 41001, opts{ifaces: lo})
	o1 := start(t, orders, 41002, opts{ifaces: lo})
	start(t, orders, 41003, opts{ifaces: lo})

	t.Run("self", func(t *testing.T) {
		if got := resolve(t, c, caller); got != "127.0.0.1:41001" {
			t.Fatalf("self = %s", got)
		}
	})
	t.Run("round-robin over instances", func(t *testing.T) {
		// The first call returns with the first answer; the other instance
		// joins the cache when the browse ends.
		eventually(t, 2*time.Second, "second instance not found", func() bool {
			return distinct(t, c, orders, 4) == "127.0.0.1:41002 127.0.0.1:41003"
		})
		var seq []string
		for i := 0; i < 4; i++ {
			seq = append(seq, resolve(t, c, orders))
		}
		if seq[0] == seq[1] || seq[0] != seq[2] || seq[1] != seq[3] {
			t.Fatalf("sequence %v is not a rotation over two instances", seq)
		}
		if got := distinct(t, c, orders, 4); got != "127.0.0.1:41002 127.0.0.1:41003" {
			t.Fatalf("instances = %s", got)
		}
		// Case does not matter in DNS names.
		if got := resolve(t, c, strings.ToUpper(orders)); !strings.HasPrefix(got, "127.0.0.1:4100") {
			t.Fatalf("upper-case id resolved to %s", got)
		}
	})
	t.Run("warm cache stays off the network", func(t *testing.T) {
		before := c.browses.Load()
		for i := 0; i < 200; i++ {
			resolve(t, c, orders)
		}
		if n := c.browses.Load() - before; n != 0 {
			t.Fatalf("%d network lookups while the cache was warm", n)
		}
	})
	t.Run("unknown app id", func(t *testing.T) {
		_, err := c.Resolve(context.Background(), nameresolution.Request{ID: billing})
		want := fmt.Sprintf("no instances of app id %q found via mDNS (is its sidecar running on this network?)", billing)
		if err == nil || err.Error() != want {
			t.Fatalf("error = %v\nwant %s", err, want)
		}
	})
	t.Run("invalid app id", func(t *testing.T) {
		for _, id := range []string{"", "a.b"} {
			if _, err := c.Resolve(context.Background(), nameresolution.Request{ID: id}); err == nil || !strings.Contains(err.Error(), "invalid app id") {
				t.Errorf("Resolve(%q) error = %v", id, err)
			}
		}
	})
	t.Run("new instance found after miss", func(t *testing.T) {
		start(t, billing, 41004, opts{ifaces: lo})
		if got := resolve(t, c, billing); got != "127.0.0.1:41004" {
			t.Fatalf("billing = %s", got)
		}
	})
	t.Run("goodbye drops the instance at once", func(t *testing.T) {
		// The cache (5s) is warm with both instances; only the goodbye can
		// remove one within a second.
		if got := distinct(t, c, orders, 4); got != "127.0.0.1:41002 127.0.0.1:41003" {
			t.Fatalf("before goodbye: %s", got)
		}
		before := c.browses.Load()
		if err := o1.Close(); err != nil {
			t.Fatal(err)
		}
		eventually(t, time.Second, "closed instance still resolved", func() bool {
			return distinct(t, c, orders, 4) == "127.0.0.1:41003"
		})
		if c.browses.Load() == before {
			t.Fatal("the goodbye did not make the caller look the app id up again")
		}
	})
}

func TestVanishedInstanceExpires(t *testing.T) {
	lo := loopback(t)
	requireMulticast(t, lo)
	id := uniqueID("flaky")
	c := start(t, uniqueID("caller"), 41101, opts{ifaces: lo, cacheTTL: 1200 * time.Millisecond})
	start(t, id, 41102, opts{ifaces: lo})
	gone := start(t, id, 41103, opts{ifaces: lo})
	eventually(t, 2*time.Second, "both instances not found", func() bool {
		return distinct(t, c, id, 4) == "127.0.0.1:41102 127.0.0.1:41103"
	})
	// A crash: the socket goes away without a goodbye.
	gone.closing.Store(true)
	gone.conn.Close()
	eventually(t, 3*time.Second, "vanished instance still resolved after its TTL", func() bool {
		return distinct(t, c, id, 4) == "127.0.0.1:41102"
	})
}

// TestLegacyUnicastQuery asks as a one-shot resolver would (no QU bit, port
// not 5353): the reply must come back to the asking socket, echo the query
// id and question, and keep TTLs at most 10s.
func TestLegacyUnicastQuery(t *testing.T) {
	lo := loopback(t)
	requireMulticast(t, lo)
	id := uniqueID("legacy")
	start(t, id, 41201, opts{ifaces: lo})

	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	pc := ipv4.NewPacketConn(conn)
	if err := pc.SetMulticastInterface(&lo[0]); err != nil {
		t.Fatal(err)
	}
	q := dnsmessage.Message{Header: dnsmessage.Header{ID: 4242}, Questions: []dnsmessage.Question{question(id+".local.", dnsmessage.TypePTR, false)}}
	b, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.WriteTo(b, nil, groupV4); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 9000)
	n, _, err := conn.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("no unicast reply: %v", err)
	}
	var m dnsmessage.Message
	if err := m.Unpack(buf[:n]); err != nil {
		t.Fatal(err)
	}
	if m.Header.ID != 4242 || len(m.Questions) != 1 || len(m.Answers) != 1 {
		t.Fatalf("reply header %+v, %d questions, %d answers", m.Header, len(m.Questions), len(m.Answers))
	}
	for _, rr := range append(m.Answers, m.Additionals...) {
		if rr.Header.TTL > legacyTTL {
			t.Errorf("%v TTL %d > %d", rr.Header.Type, rr.Header.TTL, legacyTTL)
		}
	}
}

// TestResolveOnDefaultInterfaces runs the production interface choice.
func TestResolveOnDefaultInterfaces(t *testing.T) {
	ifaces := multicastInterfaces()
	requireMulticast(t, ifaces)
	id := uniqueID("netapp")
	c := start(t, uniqueID("caller"), 41301, opts{})
	start(t, id, 41302, opts{})
	host, err := nameresolution.HostAddress("")
	if err != nil {
		t.Fatal(err)
	}
	if got := resolve(t, c, id); got != net.JoinHostPort(host, "41302") {
		t.Fatalf("resolved %s, want %s:41302", got, host)
	}
}

func TestInitErrors(t *testing.T) {
	tests := []struct {
		name    string
		inst    nameresolution.Instance
		wantErr string
	}{
		{"no app id", nameresolution.Instance{HostAddress: "127.0.0.1", DaprInternalPort: 1}, "no app id"},
		{"host name", nameresolution.Instance{AppID: "a", HostAddress: "box.local", DaprInternalPort: 1}, "not an IP address"},
		{"no port", nameresolution.Instance{AppID: "a", HostAddress: "127.0.0.1"}, "invalid internal gRPC port"},
		{"dotted app id", nameresolution.Instance{AppID: "a.b", HostAddress: "127.0.0.1", DaprInternalPort: 1}, "without dots"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := nameresolution.Create("mdns", "v1")
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if err := r.Init(context.Background(), nameresolution.Metadata{Instance: tt.inst}); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Init error = %v, want %q", err, tt.wantErr)
			}
		})
	}
	r := New()
	if _, err := r.Resolve(context.Background(), nameresolution.Request{ID: "x"}); err == nil {
		t.Fatal("Resolve before Init succeeded")
	}
}
