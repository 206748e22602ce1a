// Package rawsock wraps TCP and Unix-domain stream connections so that
// reads and writes on their non-blocking sockets do not hand the processor
// over to another thread.
//
// Go's net package marks every read and write as a system call that may
// block. While the calling thread is inside it, the runtime's monitor may
// take its processor away and wake another thread to carry on; when the
// call returns, the first thread must get a processor back, often by
// waking or waiting for yet another thread. On a socket in non-blocking
// mode the call never blocks, but on a virtual machine a loopback write
// (which delivers the data to the receiver and wakes it) easily lasts long
// enough for that hand-over, and each one costs a few context switches.
// With one processor, as the sidecar runs when it is nearly idle, that was
// most of the switching per proxied request.
//
// The wrapped connection issues the same read and write calls as raw system
// calls, which the runtime does not treat as possibly blocking; waiting for
// the socket to become ready, deadlines and closing still go through the
// network poller via syscall.RawConn, exactly as in the net package.
package rawsock

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

// maxIO caps one system call's length. While a raw call runs, the runtime
// can neither preempt the goroutine nor hand its processor to another
// thread, so a huge buffer is copied in steps of tens of microseconds.
const maxIO = 256 << 10

// Enabled reports whether Wrap wraps connections: on Linux, in builds
// without the race detector.
const Enabled = supported && !raceEnabled

// Conn is a TCP connection whose Read and Write use raw system calls.
type Conn struct {
	*net.TCPConn
	sock rawSock
}

// Read reads like net.TCPConn.Read.
func (c *Conn) Read(p []byte) (int, error) { return c.sock.read(p) }

// Write writes like net.TCPConn.Write.
func (c *Conn) Write(p []byte) (int, error) { return c.sock.write(p) }

// UnixConn is a Unix-domain stream connection whose Read and Write use raw
// system calls.
type UnixConn struct {
	*net.UnixConn
	sock rawSock
}

// Read reads like net.UnixConn.Read.
func (c *UnixConn) Read(p []byte) (int, error) { return c.sock.read(p) }

// Write writes like net.UnixConn.Write.
func (c *UnixConn) Write(p []byte) (int, error) { return c.sock.write(p) }

// rawSock does a connection's reads and writes.
type rawSock struct {
	conn net.Conn // the wrapped connection, for its addresses in errors
	raw  syscall.RawConn
	// rd and wr carry one call's buffer and result into the function
	// RawConn runs, bound once per connection: a closure per call would
	// be a heap allocation per read and write.
	rd, wr ioOp
}

// ioOp is the state of the read or write under way on a connection. Its
// mutex serializes callers, as the net package's own read and write locks
// do, which RawConn holds while it waits anyway.
type ioOp struct {
	mu    sync.Mutex
	p     []byte
	n     int
	errno syscall.Errno
	run   func(fd uintptr) bool
}

// Wrap returns c with raw reads and writes when it is a TCP or Unix-domain
// stream connection and Enabled, and c unchanged otherwise.
func Wrap(c net.Conn) net.Conn {
	if !Enabled {
		return c
	}
	switch sc := c.(type) {
	case *net.TCPConn:
		w := &Conn{TCPConn: sc}
		if w.sock.bind(sc) {
			return w
		}
	case *net.UnixConn:
		// Datagram and packet sockets keep message boundaries that a
		// stream's read loop would not respect.
		if sc.LocalAddr().Network() != "unix" {
			return c
		}
		w := &UnixConn{UnixConn: sc}
		if w.sock.bind(sc) {
			return w
		}
	}
	return c
}

// bind sets s up for c; false when c has no raw access.
func (s *rawSock) bind(c interface {
	net.Conn
	SyscallConn() (syscall.RawConn, error)
}) bool {
	raw, err := c.SyscallConn()
	if err != nil {
		return false
	}
	s.conn, s.raw = c, raw
	s.rd.run = s.rd.readOnce
	s.wr.run = s.wr.writeAll
	return true
}

// read reads like the net package's Read.
func (s *rawSock) read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if len(p) > maxIO {
		p = p[:maxIO]
	}
	n, errno, err := s.do(&s.rd, p)
	switch {
	case err != nil:
		return 0, s.opError("read", err)
	case errno != 0:
		return 0, s.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// do runs op (s.rd or s.wr) on p through RawConn and returns its result.
func (s *rawSock) do(op *ioOp, p []byte) (int, syscall.Errno, error) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.p, op.n, op.errno = p, 0, 0
	var err error
	if op == &s.wr {
		err = s.raw.Write(op.run)
	} else {
		err = s.raw.Read(op.run)
	}
	n, errno := op.n, op.errno
	op.p = nil
	return n, errno, err
}

// readOnce is one read attempt; false asks RawConn to wait for data.
func (op *ioOp) readOnce(fd uintptr) bool {
	op.n, op.errno = rawRead(fd, op.p)
	for op.errno == syscall.EINTR {
		op.n, op.errno = rawRead(fd, op.p)
	}
	return op.errno != syscall.EAGAIN
}

// write writes like the net package's Write: all of p, or an error.
func (s *rawSock) write(p []byte) (int, error) {
	written, errno, err := s.do(&s.wr, p)
	switch {
	case err != nil:
		return written, s.opError("write", err)
	case errno != 0:
		return written, s.opError("write", os.NewSyscallError("write", errno))
	}
	return written, nil
}

// writeAll writes what is left of op.p; false asks RawConn to wait until
// the socket can take more.
func (op *ioOp) writeAll(fd uintptr) bool {
	for op.n < len(op.p) {
		chunk := op.p[op.n:]
		if len(chunk) > maxIO {
			chunk = chunk[:maxIO]
		}
		n, errno := rawWrite(fd, chunk)
		switch errno {
		case 0:
			op.n += n
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default:
			op.errno = errno
			return true
		}
	}
	return true
}

// opError wraps err as the net package would. RawConn's own errors (deadline,
// closed connection) are already *net.OpError, but named "raw-read" and
// "raw-write"; they get the plain operation's name so that messages read
// the same as without this package.
func (s *rawSock) opError(op string, err error) error {
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		plain := *opErr
		plain.Op = op
		return &plain
	}
	local := s.conn.LocalAddr()
	return &net.OpError{Op: op, Net: local.Network(), Source: local, Addr: s.conn.RemoteAddr(), Err: err}
}

// Listener wraps each accepted connection with Wrap.
type Listener struct {
	net.Listener
}

// Accept waits for the next connection and wraps it.
func (l Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Wrap(c), nil
}

// Dialer returns dial wrapped so that its TCP and Unix-domain stream
// connections use raw I/O.
func Dialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return Wrap(c), nil
	}
}

// DialTCP returns a dialer in grpc.WithContextDialer's shape: TCP through
// d, with raw I/O.
func DialTCP(d *net.Dialer) func(ctx context.Context, addr string) (net.Conn, error) {
	dial := Dialer(d.DialContext)
	return func(ctx context.Context, addr string) (net.Conn, error) {
		return dial(ctx, "tcp", addr)
	}
}
