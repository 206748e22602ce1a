package mdns

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/net/ipv4"
)

// multicastInterfaces lists the interfaces to advertise and browse on: up,
// multicast-capable, with an IPv4 address. Without any, loopback still
// lets sidecars on this host find each other.
func multicastInterfaces() []net.Interface {
	all, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []net.Interface
	var loopback []net.Interface
	for _, ifi := range all {
		if ifi.Flags&net.FlagUp == 0 || !hasIPv4(ifi) {
			continue
		}
		switch {
		case ifi.Flags&net.FlagLoopback != 0:
			loopback = append(loopback, ifi)
		case ifi.Flags&net.FlagMulticast != 0:
			out = append(out, ifi)
		}
	}
	if len(out) == 0 {
		return loopback
	}
	return out
}

func hasIPv4(ifi net.Interface) bool {
	addrs, err := ifi.Addrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			return true
		}
	}
	return false
}

func ifaceNames(ifaces []net.Interface) string {
	if len(ifaces) == 0 {
		return "default"
	}
	names := make([]string, len(ifaces))
	for i, ifi := range ifaces {
		names[i] = ifi.Name
	}
	return strings.Join(names, ",")
}

// listen joins the mDNS group on every interface. Several sidecars on one
// host share port 5353 (the standard library sets SO_REUSEADDR).
func (r *Resolver) listen() error {
	var first *net.Interface
	if len(r.ifaces) > 0 {
		first = &r.ifaces[0]
	}
	conn, err := net.ListenMulticastUDP("udp4", first, groupV4)
	if err != nil {
		return fmt.Errorf("listen on %s (interface %s): %w", groupV4, ifaceNames(r.ifaces), err)
	}
	pc := ipv4.NewPacketConn(conn)
	for i := 1; i < len(r.ifaces); i++ {
		if err := pc.JoinGroup(&r.ifaces[i], groupV4); err != nil {
			r.log.Warn("cannot join the mDNS group", "interface", r.ifaces[i].Name, "error", err)
		}
	}
	if err := setMulticastOptions(pc); err != nil {
		conn.Close()
		return err
	}
	r.conn, r.pc = conn, pc
	return nil
}

// setMulticastOptions sets the TTL RFC 6762 asks for, and loopback so that
// sidecars on the same host hear each other.
func setMulticastOptions(pc *ipv4.PacketConn) error {
	if err := pc.SetMulticastTTL(255); err != nil {
		return fmt.Errorf("set multicast TTL: %w", err)
	}
	if err := pc.SetMulticastLoopback(true); err != nil {
		return fmt.Errorf("enable multicast loopback: %w", err)
	}
	return nil
}

// multicast sends b to the group on every interface.
func multicast(pc *ipv4.PacketConn, ifaces []net.Interface, b []byte) error {
	if len(ifaces) == 0 {
		_, err := pc.WriteTo(b, nil, groupV4)
		return err
	}
	var errs []error
	for i := range ifaces {
		if err := pc.SetMulticastInterface(&ifaces[i]); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ifaces[i].Name, err))
			continue
		}
		if _, err := pc.WriteTo(b, nil, groupV4); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ifaces[i].Name, err))
		}
	}
	if len(errs) == len(ifaces) {
		return errors.Join(errs...)
	}
	return nil // reached at least one interface
}

// serve answers queries and watches for goodbyes until the socket closes.
func (r *Resolver) serve() {
	defer r.wg.Done()
	buf := make([]byte, 9000) // the largest mDNS message, RFC 6762 §17
	for {
		n, src, err := r.conn.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || r.closing.Load() {
				return
			}
			r.log.Debug("mDNS read failed", "error", err)
			continue
		}
		var m dnsmessage.Message
		if err := m.Unpack(buf[:n]); err != nil {
			continue // not ours to worry about
		}
		if m.Header.Response {
			for _, id := range goodbyes(&m) {
				r.forget(id)
			}
			continue
		}
		r.answer(&m, src)
	}
}

// answer replies to a query about this instance: unicast to one-shot
// queriers (source port not 5353, RFC 6762 §6.7) and to questions that ask
// for it, multicast otherwise.
func (r *Resolver) answer(m *dnsmessage.Message, src *net.UDPAddr) {
	if m.Header.OpCode != 0 || r.closing.Load() {
		return
	}
	kinds, unicast := r.svc.wanted(m.Questions)
	if kinds == 0 {
		return
	}
	legacy := src.Port != mdnsPort
	rp := reply{ttl: recordTTL, flush: !legacy && !unicast}
	if legacy {
		rp = reply{id: m.Header.ID, questions: m.Questions, ttl: legacyTTL}
	}
	b, err := r.svc.message(kinds, rp)
	if err != nil {
		r.log.Warn("cannot build mDNS reply", "error", err)
		return
	}
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	if legacy || unicast {
		_, err = r.conn.WriteToUDP(b, src)
	} else {
		err = multicast(r.pc, r.ifaces, b)
	}
	if err != nil {
		r.log.Debug("mDNS reply failed", "to", src.String(), "error", err)
	}
}

// announce tells the network about this instance unasked.
func (r *Resolver) announce() {
	r.sendAll(reply{ttl: recordTTL, flush: true}, "announcement")
}

// goodbye withdraws this instance: the same records with TTL 0 (RFC 6762
// §10.1). Its host name is its own, so the address goes too.
func (r *Resolver) goodbye() {
	r.sendAll(reply{ttl: 0}, "goodbye")
}

func (r *Resolver) sendAll(rp reply, what string) {
	b, err := r.svc.message(kindPTR, rp) // PTR plus SRV, TXT and address as additionals
	if err != nil {
		r.log.Warn("cannot build mDNS "+what, "error", err)
		return
	}
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	if err := multicast(r.pc, r.ifaces, b); err != nil {
		r.log.Warn("mDNS "+what+" failed", "error", err)
	}
}
