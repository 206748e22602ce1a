package mdns

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

func testService(t *testing.T, ip string) *service {
	t.Helper()
	s, err := newService("orders", "box.example.com", 42, net.ParseIP(ip), 50002)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func question(name string, typ dnsmessage.Type, qu bool) dnsmessage.Question {
	class := dnsmessage.ClassINET
	if qu {
		class |= topBit
	}
	return dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: typ, Class: class}
}

func TestNewService(t *testing.T) {
	s := testService(t, "10.0.0.5")
	if s.service != "orders.local." || s.instance != "box-42-50002.orders.local." || s.host != "box-42-50002.local." {
		t.Fatalf("names = %q %q %q", s.service, s.instance, s.host)
	}
	for _, id := range []string{"", "a.b", strings.Repeat("x", 64)} {
		if _, err := newService(id, "h", 1, net.IPv4(1, 2, 3, 4), 1); err == nil {
			t.Errorf("newService(%q) accepted", id)
		}
	}
	for host, want := range map[string]string{"": "outrigger", "my_host.lan": "myhost", "ünï": "n", "ü": "outrigger", "web-1": "web-1"} {
		if got := hostLabel(host); got != want {
			t.Errorf("hostLabel(%q) = %q, want %q", host, got, want)
		}
	}
}

func TestWanted(t *testing.T) {
	s := testService(t, "10.0.0.5")
	tests := []struct {
		name        string
		qs          []dnsmessage.Question
		want        kinds
		wantUnicast bool
	}{
		{"ptr for our app", []dnsmessage.Question{question("orders.local.", dnsmessage.TypePTR, false)}, kindPTR, false},
		{"case-insensitive", []dnsmessage.Question{question("ORDERS.local.", dnsmessage.TypePTR, true)}, kindPTR, true},
		{"other app", []dnsmessage.Question{question("billing.local.", dnsmessage.TypePTR, true)}, 0, false},
		{"srv", []dnsmessage.Question{question("box-42-50002.orders.local.", dnsmessage.TypeSRV, false)}, kindSRV, false},
		{"any on instance", []dnsmessage.Question{question("box-42-50002.orders.local.", dnsmessage.TypeALL, false)}, kindSRV | kindTXT, false},
		{"address", []dnsmessage.Question{question("box-42-50002.local.", dnsmessage.TypeA, true)}, kindAddr, true},
		{"aaaa for an IPv4 host", []dnsmessage.Question{question("box-42-50002.local.", dnsmessage.TypeAAAA, true)}, 0, false},
		{"mixed QU: multicast wins", []dnsmessage.Question{
			question("orders.local.", dnsmessage.TypePTR, true),
			question("box-42-50002.orders.local.", dnsmessage.TypeSRV, false),
		}, kindPTR | kindSRV, false},
		{"unrelated QU question ignored", []dnsmessage.Question{
			question("orders.local.", dnsmessage.TypePTR, true),
			question("billing.local.", dnsmessage.TypePTR, false),
		}, kindPTR, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, unicast := s.wanted(tt.qs)
			if got != tt.want || unicast != tt.wantUnicast {
				t.Fatalf("wanted = %b, unicast %v; want %b, %v", got, unicast, tt.want, tt.wantUnicast)
			}
		})
	}
}

// roundTrip packs what s sends for answer and reads it back as a browser would.
func roundTrip(t *testing.T, s *service, answer kinds, rp reply) (*dnsmessage.Message, map[string]found) {
	t.Helper()
	b, err := s.message(answer, rp)
	if err != nil {
		t.Fatal(err)
	}
	var m dnsmessage.Message
	if err := m.Unpack(b); err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	c.add(&m, "orders.local.")
	return &m, c.instances()
}

func TestMessageRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		ip       string
		rp       reply
		wantAddr string
		wantTTL  time.Duration
	}{
		{"multicast ipv4", "10.0.0.5", reply{ttl: recordTTL, flush: true}, "10.0.0.5:50002", recordTTL * time.Second},
		{"legacy unicast", "10.0.0.5", reply{id: 7, ttl: legacyTTL, questions: []dnsmessage.Question{question("orders.local.", dnsmessage.TypePTR, false)}}, "10.0.0.5:50002", legacyTTL * time.Second},
		{"ipv6", "fd00::5", reply{ttl: recordTTL}, "[fd00::5]:50002", recordTTL * time.Second},
		{"goodbye", "10.0.0.5", reply{ttl: 0}, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, insts := roundTrip(t, testService(t, tt.ip), kindPTR, tt.rp)
			if m.Header.ID != tt.rp.id || len(m.Questions) != len(tt.rp.questions) || !m.Header.Response {
				t.Errorf("header = %+v, %d questions", m.Header, len(m.Questions))
			}
			if len(m.Answers) != 1 || len(m.Additionals) != 3 {
				t.Errorf("answers %d, additionals %d; want 1 and 3", len(m.Answers), len(m.Additionals))
			}
			for _, rr := range m.Additionals {
				if flush := rr.Header.Class&topBit != 0; flush != tt.rp.flush {
					t.Errorf("%v cache-flush = %v", rr.Header.Type, flush)
				}
			}
			if tt.wantAddr == "" {
				if len(insts) != 0 {
					t.Fatalf("goodbye produced instances %v", insts)
				}
				if ids := goodbyes(m); fmt.Sprint(ids) != "[orders]" {
					t.Fatalf("goodbyes = %v", ids)
				}
				return
			}
			f, ok := insts["box-42-50002.orders.local."]
			if !ok || len(insts) != 1 || f.addr != tt.wantAddr || f.ttl != tt.wantTTL {
				t.Fatalf("instances = %+v, want %s ttl %v", insts, tt.wantAddr, tt.wantTTL)
			}
			if ids := goodbyes(m); len(ids) != 0 {
				t.Fatalf("live records read as goodbye for %v", ids)
			}
		})
	}
}

// TestCollectorDaprStyle reads records shaped as Dapr's resolver (grandcat
// zeroconf) sends them: instance "<host>:<pid>", target "<host>.local.",
// spread over two packets, and an instance another one replaces.
func TestCollectorDaprStyle(t *testing.T) {
	name := dnsmessage.MustNewName
	hdr := func(n string, ttl uint32) dnsmessage.ResourceHeader {
		return dnsmessage.ResourceHeader{Name: name(n), Class: dnsmessage.ClassINET, TTL: ttl}
	}
	first := dnsmessage.Message{Header: dnsmessage.Header{Response: true}, Answers: []dnsmessage.Resource{
		{Header: hdr("orders.local.", 4500), Body: &dnsmessage.PTRResource{PTR: name("laptop:1234.orders.local.")}},
		{Header: hdr("orders.local.", 4500), Body: &dnsmessage.PTRResource{PTR: name("laptop:999.orders.local.")}},
		{Header: hdr("billing.local.", 4500), Body: &dnsmessage.PTRResource{PTR: name("laptop:555.billing.local.")}},
	}, Additionals: []dnsmessage.Resource{
		{Header: hdr("laptop:1234.orders.local.", 120), Body: &dnsmessage.SRVResource{Target: name("laptop.local."), Port: 41000}},
		{Header: hdr("laptop:1234.orders.local.", 4500), Body: &dnsmessage.TXTResource{TXT: []string{"orders"}}},
		{Header: hdr("laptop:555.billing.local.", 120), Body: &dnsmessage.SRVResource{Target: name("laptop.local."), Port: 42000}},
	}}
	second := dnsmessage.Message{Header: dnsmessage.Header{Response: true}, Additionals: []dnsmessage.Resource{
		{Header: hdr("laptop.local.", 120), Body: &dnsmessage.AAAAResource{AAAA: [16]byte{0xfd, 15: 1}}},
		{Header: hdr("laptop.local.", 60), Body: &dnsmessage.AResource{A: [4]byte{192, 168, 1, 20}}},
	}}
	c := newCollector()
	c.add(&first, "orders.local.")
	if got := c.instances(); len(got) != 0 {
		t.Fatalf("instances without address records: %v", got)
	}
	c.add(&second, "orders.local.")
	got := c.instances()
	// laptop:999 has no SRV record, billing is another service.
	if len(got) != 1 || got["laptop:1234.orders.local."] != (found{addr: "192.168.1.20:41000", ttl: 60 * time.Second}) {
		t.Fatalf("instances = %+v", got)
	}
	addrs, ttl := sortedAddrs(got)
	if fmt.Sprint(addrs) != "[192.168.1.20:41000]" || ttl != 60*time.Second {
		t.Fatalf("sortedAddrs = %v, %v", addrs, ttl)
	}
}

func TestQuery(t *testing.T) {
	b, err := query("orders.local.")
	if err != nil {
		t.Fatal(err)
	}
	var m dnsmessage.Message
	if err := m.Unpack(b); err != nil {
		t.Fatal(err)
	}
	q := m.Questions
	if m.Header.Response || len(q) != 1 || q[0].Name.String() != "orders.local." || q[0].Type != dnsmessage.TypePTR || q[0].Class != dnsmessage.ClassINET|topBit {
		t.Fatalf("query = %+v", m)
	}
}
