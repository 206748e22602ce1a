package mdns

import (
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

const (
	mdnsPort = 5353
	domain   = "local."
	// recordTTL is what RFC 6762 §10 recommends for records naming a host.
	recordTTL = 120
	// legacyTTL caps TTLs in replies to one-shot (non-5353) queriers,
	// RFC 6762 §6.7.
	legacyTTL = 10
	// topBit is the cache-flush bit on record classes and the
	// unicast-response (QU) bit on question classes.
	topBit = 1 << 15
)

var groupV4 = &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: mdnsPort}

// service is the one instance a resolver advertises, named as Dapr's mDNS
// resolver names it: service "<app-id>.local.", TXT holding the app id.
type service struct {
	appID    string
	service  string // "<app-id>.local."
	instance string // "<label>.<app-id>.local."
	host     string // "<label>.local."
	ip       net.IP
	port     uint16
}

// newService names the instance after host, pid and port: unique among
// sidecars, and stable for one process.
func newService(appID, hostname string, pid int, ip net.IP, port int) (*service, error) {
	if appID == "" || strings.Contains(appID, ".") || len(appID) > 63 {
		return nil, fmt.Errorf("app id %q cannot be advertised over mDNS: it must be 1-63 characters without dots", appID)
	}
	label := fmt.Sprintf("%s-%d-%d", hostLabel(hostname), pid, port)
	svc := appID + "." + domain
	return &service{
		appID:    appID,
		service:  svc,
		instance: label + "." + svc,
		host:     label + "." + domain,
		ip:       ip,
		port:     uint16(port),
	}, nil
}

// hostLabel keeps the first label of the host name, letters, digits and
// dashes only, so it fits in one DNS label.
func hostLabel(hostname string) string {
	first, _, _ := strings.Cut(hostname, ".")
	var b strings.Builder
	for _, r := range first {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		}
		if b.Len() >= 40 {
			break
		}
	}
	if b.Len() == 0 {
		return "outrigger"
	}
	return b.String()
}

// kinds is a set of the records a reply carries.
type kinds uint8

const (
	kindPTR kinds = 1 << iota
	kindSRV
	kindTXT
	kindAddr
)

func (s *service) addrType() dnsmessage.Type {
	if s.ip.To4() != nil {
		return dnsmessage.TypeA
	}
	return dnsmessage.TypeAAAA
}

// wanted returns the records that answer qs, and whether every question
// that concerns us asked for a unicast reply.
func (s *service) wanted(qs []dnsmessage.Question) (answer kinds, unicast bool) {
	unicast = true
	for _, q := range qs {
		name, t := q.Name.String(), q.Type
		any := t == dnsmessage.TypeALL
		var k kinds
		switch {
		case strings.EqualFold(name, s.service) && (any || t == dnsmessage.TypePTR):
			k = kindPTR
		case strings.EqualFold(name, s.instance):
			if any || t == dnsmessage.TypeSRV {
				k |= kindSRV
			}
			if any || t == dnsmessage.TypeTXT {
				k |= kindTXT
			}
		case strings.EqualFold(name, s.host) && (any || t == s.addrType()):
			k = kindAddr
		}
		if k != 0 {
			answer |= k
			unicast = unicast && q.Class&topBit != 0
		}
	}
	return answer, unicast && answer != 0
}

// additional returns the records worth adding to answer so the querier
// needs no second round trip.
func additional(answer kinds) kinds {
	var extra kinds
	if answer&kindPTR != 0 {
		extra |= kindSRV | kindTXT | kindAddr
	}
	if answer&kindSRV != 0 {
		extra |= kindAddr
	}
	return extra &^ answer
}

// reply is how a message goes out.
type reply struct {
	id        uint16                // echoed for legacy unicast
	questions []dnsmessage.Question // echoed for legacy unicast
	ttl       uint32                // 0 for a goodbye
	flush     bool                  // set cache-flush on unique records (multicast only)
}

// message packs the records of answer (plus their additional records).
func (s *service) message(answer kinds, rp reply) ([]byte, error) {
	m := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: rp.id, Response: true, Authoritative: true},
		Questions: rp.questions,
	}
	m.Answers = s.resources(answer, rp)
	m.Additionals = s.resources(additional(answer), rp)
	return m.Pack()
}

func (s *service) resources(k kinds, rp reply) []dnsmessage.Resource {
	var out []dnsmessage.Resource
	hdr := func(name string, unique bool) dnsmessage.ResourceHeader {
		class := dnsmessage.ClassINET
		if unique && rp.flush {
			class |= topBit
		}
		return dnsmessage.ResourceHeader{Name: mustName(name), Class: class, TTL: rp.ttl}
	}
	if k&kindPTR != 0 {
		out = append(out, dnsmessage.Resource{Header: hdr(s.service, false), Body: &dnsmessage.PTRResource{PTR: mustName(s.instance)}})
	}
	if k&kindSRV != 0 {
		out = append(out, dnsmessage.Resource{Header: hdr(s.instance, true), Body: &dnsmessage.SRVResource{Target: mustName(s.host), Port: s.port}})
	}
	if k&kindTXT != 0 {
		out = append(out, dnsmessage.Resource{Header: hdr(s.instance, true), Body: &dnsmessage.TXTResource{TXT: []string{s.appID}}})
	}
	if k&kindAddr != 0 {
		if ip4 := s.ip.To4(); ip4 != nil {
			var a [4]byte
			copy(a[:], ip4)
			out = append(out, dnsmessage.Resource{Header: hdr(s.host, true), Body: &dnsmessage.AResource{A: a}})
		} else {
			var a [16]byte
			copy(a[:], s.ip.To16())
			out = append(out, dnsmessage.Resource{Header: hdr(s.host, true), Body: &dnsmessage.AAAAResource{AAAA: a}})
		}
	}
	return out
}

// mustName converts a name we built ourselves; newService bounds lengths.
func mustName(s string) dnsmessage.Name {
	n, err := dnsmessage.NewName(s)
	if err != nil {
		panic(fmt.Sprintf("mdns: bad name %q: %v", s, err))
	}
	return n
}

// query packs a PTR question for the instances of a service, asking for
// unicast replies so a short-lived socket on any port receives them.
func query(service string) ([]byte, error) {
	name, err := dnsmessage.NewName(service)
	if err != nil {
		return nil, fmt.Errorf("service name %q: %w", service, err)
	}
	m := dnsmessage.Message{Questions: []dnsmessage.Question{{Name: name, Type: dnsmessage.TypePTR, Class: dnsmessage.ClassINET | topBit}}}
	return m.Pack()
}

// found is one instance seen on the network.
type found struct {
	addr string
	ttl  time.Duration
}

// collector gathers records across the replies to one query; an instance's
// PTR, SRV and address records may come in different packets.
type collector struct {
	ptrs  map[string]uint32 // instance -> TTL, for the service asked about
	srvs  map[string]srvRecord
	addrs map[string][]addrRecord // host -> addresses
}

type srvRecord struct {
	target string
	port   uint16
	ttl    uint32
}

type addrRecord struct {
	ip  net.IP
	ttl uint32
}

func newCollector() *collector {
	return &collector{ptrs: map[string]uint32{}, srvs: map[string]srvRecord{}, addrs: map[string][]addrRecord{}}
}

// add takes the records of one response about service.
func (c *collector) add(m *dnsmessage.Message, service string) {
	all := append(append(append([]dnsmessage.Resource(nil), m.Answers...), m.Authorities...), m.Additionals...)
	for _, rr := range all {
		name := strings.ToLower(rr.Header.Name.String())
		switch b := rr.Body.(type) {
		case *dnsmessage.PTRResource:
			if strings.EqualFold(name, service) {
				c.ptrs[strings.ToLower(b.PTR.String())] = rr.Header.TTL
			}
		case *dnsmessage.SRVResource:
			c.srvs[name] = srvRecord{target: strings.ToLower(b.Target.String()), port: b.Port, ttl: rr.Header.TTL}
		case *dnsmessage.AResource:
			c.addAddr(name, net.IP(b.A[:]).To4(), rr.Header.TTL)
		case *dnsmessage.AAAAResource:
			c.addAddr(name, net.IP(b.AAAA[:]), rr.Header.TTL)
		}
	}
}

func (c *collector) addAddr(host string, ip net.IP, ttl uint32) {
	for i, a := range c.addrs[host] {
		if a.ip.Equal(ip) {
			c.addrs[host][i].ttl = ttl
			return
		}
	}
	c.addrs[host] = append(c.addrs[host], addrRecord{ip: ip, ttl: ttl})
}

// instances returns the complete instances (PTR, SRV and an address, none
// withdrawn by a zero TTL), keyed by instance name.
func (c *collector) instances() map[string]found {
	out := map[string]found{}
	for inst, ptrTTL := range c.ptrs {
		srv, ok := c.srvs[inst]
		if !ok || ptrTTL == 0 || srv.ttl == 0 {
			continue
		}
		ip, ipTTL := pickAddr(c.addrs[srv.target])
		if ip == nil {
			continue
		}
		ttl := min(ptrTTL, srv.ttl, ipTTL)
		out[inst] = found{addr: net.JoinHostPort(ip.String(), fmt.Sprint(srv.port)), ttl: time.Duration(ttl) * time.Second}
	}
	return out
}

// pickAddr prefers IPv4, as Dapr does, and skips withdrawn addresses.
func pickAddr(addrs []addrRecord) (net.IP, uint32) {
	var v6 *addrRecord
	for i, a := range addrs {
		if a.ttl == 0 {
			continue
		}
		if a.ip.To4() != nil {
			return a.ip, a.ttl
		}
		if v6 == nil {
			v6 = &addrs[i]
		}
	}
	if v6 != nil {
		return v6.ip, v6.ttl
	}
	return nil, 0
}

// sortedAddrs lists the addresses of instances and the shortest TTL.
func sortedAddrs(insts map[string]found) ([]string, time.Duration) {
	seen := map[string]bool{}
	var addrs []string
	var ttl time.Duration
	for _, f := range insts {
		if ttl == 0 || f.ttl < ttl {
			ttl = f.ttl
		}
		if !seen[f.addr] {
			seen[f.addr] = true
			addrs = append(addrs, f.addr)
		}
	}
	sort.Strings(addrs)
	return addrs, ttl
}

// goodbyes returns the app ids whose instances a response withdraws (PTR
// records with TTL 0 for "<app-id>.local.").
func goodbyes(m *dnsmessage.Message) []string {
	var ids []string
	for _, rr := range m.Answers {
		if _, ok := rr.Body.(*dnsmessage.PTRResource); !ok || rr.Header.TTL != 0 {
			continue
		}
		name := strings.ToLower(rr.Header.Name.String())
		if id, ok := strings.CutSuffix(name, "."+domain); ok && id != "" && !strings.Contains(id, ".") {
			ids = append(ids, id)
		}
	}
	return ids
}
