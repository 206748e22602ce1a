// Package protosplit shares one listener between an HTTP/2 server (gRPC)
// and an HTTP/1.1 server, telling each connection's protocol from the
// first bytes its client sends: every HTTP/2 client opens with the
// connection preface "PRI * HTTP/2.0", and no HTTP/1.1 request starts
// with "PRI ".
package protosplit

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// h2Start is the start of the HTTP/2 client connection preface.
var h2Start = []byte("PRI ")

// Split accepts connections from one listener and hands each to the
// listener of its protocol.
type Split struct {
	ln      net.Listener
	timeout time.Duration
	h2, h1  *subListener
	wg      sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	pending map[net.Conn]struct{} // connections not yet classified
}

// New splits ln. A connection whose client has not sent its first bytes
// within timeout is closed.
func New(ln net.Listener, timeout time.Duration) *Split {
	s := &Split{ln: ln, timeout: timeout, pending: map[net.Conn]struct{}{}}
	s.h2 = newSubListener(ln.Addr())
	s.h1 = newSubListener(ln.Addr())
	return s
}

// HTTP2 is the listener of connections that opened with the HTTP/2
// preface.
func (s *Split) HTTP2() net.Listener { return s.h2 }

// HTTP1 is the listener of every other connection.
func (s *Split) HTTP1() net.Listener { return s.h1 }

// Serve accepts until the underlying listener is closed, then closes both
// protocol listeners.
func (s *Split) Serve() error {
	defer func() {
		s.wg.Wait()
		s.h2.shut()
		s.h1.shut()
	}()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond) // out of file descriptors: let some close
				continue
			}
			return err
		}
		if !s.track(c) {
			_ = c.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.route(c)
		}()
	}
}

// Close closes the underlying listener and the connections still being
// classified; Serve then returns.
func (s *Split) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for c := range s.pending {
		_ = c.Close()
	}
	return err
}

// track records a connection being classified; false after Close.
func (s *Split) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.pending[c] = struct{}{}
	return true
}

func (s *Split) untrack(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pending, c)
}

// route reads the client's first bytes (without losing them) and passes
// the connection on.
func (s *Split) route(c net.Conn) {
	head := make([]byte, len(h2Start))
	_ = c.SetReadDeadline(time.Now().Add(s.timeout))
	n, err := io.ReadFull(c, head)
	_ = c.SetReadDeadline(time.Time{})
	s.untrack(c)
	if err != nil && n == 0 {
		_ = c.Close()
		return
	}
	pc := &prefixConn{Conn: c, prefix: head[:n]}
	to := s.h1
	if bytes.Equal(head[:n], h2Start) {
		to = s.h2
	}
	if !to.deliver(pc) {
		_ = c.Close()
	}
}

// prefixConn returns the bytes read to classify it before the rest.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// subListener is fed by Split.
type subListener struct {
	addr   net.Addr
	conns  chan net.Conn
	once   sync.Once
	closed chan struct{}
}

func newSubListener(addr net.Addr) *subListener {
	return &subListener{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *subListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// deliver hands c to the server accepting on l; false once l is closed.
func (l *subListener) deliver(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.closed:
		return false
	}
}

// Close stops this protocol's deliveries; the other protocol and the
// underlying listener are not affected.
func (l *subListener) Close() error {
	l.shut()
	return nil
}

func (l *subListener) shut() { l.once.Do(func() { close(l.closed) }) }

func (l *subListener) Addr() net.Addr { return l.addr }
