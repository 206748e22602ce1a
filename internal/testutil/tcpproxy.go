package testutil

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy forwards TCP connections to a backend. Sever cuts every open
// connection, as a network failure or server restart would, so tests can
// check that clients reconnect. New connections are accepted again right
// away unless SetRefuse(true) is in effect.
type Proxy struct {
	ln      net.Listener
	backend string
	refuse  atomic.Bool

	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

// StartProxy listens on a free loopback port and forwards to backend
// until the test ends.
func StartProxy(t testing.TB, backend string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: listen: %v", err)
	}
	p := &Proxy{ln: ln, backend: backend}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.Sever()
		p.wg.Wait()
	})
	return p
}

// Addr is the host:port clients should dial.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetRefuse makes the proxy close new connections at once (on) or
// forward them again (off), to simulate a backend that stays down.
func (p *Proxy) SetRefuse(on bool) { p.refuse.Store(on) }

// Sever closes every connection open now.
func (p *Proxy) Sever() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.refuse.Load() {
			down.Close()
			continue
		}
		up, err := net.Dial("tcp", p.backend)
		if err != nil {
			down.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, down, up)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(down, up)
		go p.pipe(up, down)
	}
}

func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}
