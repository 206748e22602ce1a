package mdns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/net/ipv4"
)

// retransmitAfter resends the query once if nothing answered by then, in
// case the first packet was lost.
const retransmitAfter = 250 * time.Millisecond

// browse asks the network for the instances of appID. It returns once
// answers stop coming for r.settle after the first one, or after
// r.browseTimeout with whatever it has (possibly nothing). onNew, if not
// nil, sees the instances found so far each time the list grows.
func (r *Resolver) browse(ctx context.Context, appID string, onNew func(map[string]found)) (map[string]found, error) {
	r.browses.Add(1)
	service := appID + "." + domain
	q, err := query(service)
	if err != nil {
		return nil, err
	}
	// A fresh socket on an ephemeral port: the question asks for unicast
	// replies, so they come straight here and not to every listener.
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		return nil, fmt.Errorf("open query socket: %w", err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	pc := ipv4.NewPacketConn(conn)
	if err := setMulticastOptions(pc); err != nil {
		return nil, err
	}
	if err := multicast(pc, r.ifaces, q); err != nil {
		return nil, fmt.Errorf("send query: %w", err)
	}

	col := newCollector()
	start := time.Now()
	deadline := start.Add(r.browseTimeout)
	retransmitted := false
	var insts map[string]found
	buf := make([]byte, 9000)
	for {
		wait := deadline
		if !retransmitted && len(insts) == 0 {
			wait = earliest(wait, start.Add(retransmitAfter))
		}
		conn.SetReadDeadline(wait)
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				return nil, fmt.Errorf("read replies: %w", err)
			}
			if time.Now().Before(deadline) && !retransmitted {
				retransmitted = true
				if err := multicast(pc, r.ifaces, q); err != nil {
					r.log.Debug("mDNS query retransmission failed", "error", err)
				}
				continue
			}
			return insts, nil
		}
		var m dnsmessage.Message
		if m.Unpack(buf[:n]) != nil || !m.Header.Response {
			continue
		}
		col.add(&m, service)
		if now := col.instances(); len(now) > len(insts) {
			insts = now
			if onNew != nil {
				onNew(insts)
			}
			// Something new: listen a little longer for the other instances.
			deadline = earliest(start.Add(r.browseTimeout), time.Now().Add(r.settle))
		} else {
			insts = now
		}
	}
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
