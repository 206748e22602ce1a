// Package h1client is an HTTP/1.1 client transport that runs each call on
// the caller's goroutine: it writes the request and reads the answer
// itself, on a pooled keep-alive connection.
//
// net/http's Transport gives every connection a writer and a reader
// goroutine, so each call is handed over twice and each hand-over may wake
// a sleeping thread. A sidecar calling its local app thousands of times a
// second pays more CPU for those wake-ups than for the call. Writing the
// request and reading the answer on the calling goroutine removes both.
//
// Only the plain calls a sidecar makes most are taken: http scheme, no
// body or a small one held in memory, no 100-continue, no upgrade, no
// trailers. Everything else goes to Fallback unchanged. Requests are
// written and answers parsed by net/http itself (Request.Write and
// ReadResponse); only the connection handling lives here.
package h1client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"sync"
	"time"
)

// Defaults for the zero values of Transport's fields.
const (
	DefaultMaxInlineBody          = 64 << 10
	DefaultMaxIdlePerHost         = 256
	DefaultIdleTimeout            = 90 * time.Second
	DefaultMaxResponseHeaderBytes = 10 << 20 // as net/http's Transport
	defaultDialTimeout            = 5 * time.Second
	bufferSize                    = 4 << 10 // as net/http's Transport
)

// Transport is an http.RoundTripper. Its zero value is not usable:
// Fallback must be set. It is safe for concurrent use.
type Transport struct {
	// Fallback takes every request this transport does not (see takes).
	Fallback http.RoundTripper
	// Dial opens a connection; nil means net.Dialer with a 5s timeout and
	// 30s TCP keep-alives.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxInlineBody is the largest request body taken here; it must be in
	// memory (GetBody set, length known). <=0 means DefaultMaxInlineBody.
	MaxInlineBody int64
	// MaxIdlePerHost caps the idle connections kept per host:port.
	MaxIdlePerHost int
	// IdleTimeout drops a connection idle for longer.
	IdleTimeout time.Duration
	// MaxResponseHeaderBytes bounds the status line and headers.
	MaxResponseHeaderBytes int64

	mu   sync.Mutex
	idle map[string][]*conn // by host:port, most recently used last
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.takes(req) {
		return t.Fallback.RoundTrip(req)
	}
	addr := hostPort(req)
	for attempt := 0; ; attempt++ {
		c, reused, err := t.getConn(req.Context(), addr)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		resp, err := c.roundTrip(req)
		if err == nil {
			return resp, nil
		}
		if attempt > 0 || !reused || !canRetry(req, err) {
			return nil, err
		}
		// A kept-alive connection the app had closed: send again on a
		// fresh one, as net/http does in the same cases.
		if req, err = rewind(req); err != nil {
			return nil, err
		}
	}
}

// takes reports whether req is one this transport serves itself.
func (t *Transport) takes(req *http.Request) bool {
	if req.URL == nil || req.URL.Scheme != "http" || req.URL.Host == "" || req.Method == http.MethodConnect {
		return false
	}
	if len(req.TransferEncoding) > 0 || len(req.Trailer) > 0 ||
		req.Header["Expect"] != nil || req.Header["Upgrade"] != nil {
		return false
	}
	if req.Body == nil || req.Body == http.NoBody {
		return true
	}
	limit := t.MaxInlineBody
	if limit <= 0 {
		limit = DefaultMaxInlineBody
	}
	return req.GetBody != nil && req.ContentLength > 0 && req.ContentLength <= limit
}

// CloseIdleConnections closes every idle connection, here and in Fallback.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, conns := range idle {
		for _, c := range conns {
			c.close()
		}
	}
	if f, ok := t.Fallback.(interface{ CloseIdleConnections() }); ok {
		f.CloseIdleConnections()
	}
}

// getConn returns a live idle connection to addr, or dials one.
func (t *Transport) getConn(ctx context.Context, addr string) (c *conn, reused bool, err error) {
	for {
		c = t.popIdle(addr)
		if c == nil {
			break
		}
		if c.alive() {
			return c, true, nil
		}
		c.close()
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	dial := t.Dial
	if dial == nil {
		d := &net.Dialer{Timeout: defaultDialTimeout, KeepAlive: 30 * time.Second}
		dial = d.DialContext
	}
	nc, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	return newConn(t, addr, nc), false, nil
}

// popIdle takes the most recently used idle connection to addr, closing
// those idle for too long on the way.
func (t *Transport) popIdle(addr string) *conn {
	timeout := t.IdleTimeout
	if timeout <= 0 {
		timeout = DefaultIdleTimeout
	}
	var stale []*conn
	defer func() {
		for _, c := range stale {
			c.close()
		}
	}()
	t.mu.Lock()
	defer t.mu.Unlock()
	conns := t.idle[addr]
	for len(conns) > 0 {
		c := conns[len(conns)-1]
		conns[len(conns)-1] = nil
		conns = conns[:len(conns)-1]
		if time.Since(c.idleSince) <= timeout {
			t.idle[addr] = conns
			return c
		}
		stale = append(stale, c)
	}
	if t.idle != nil {
		t.idle[addr] = conns
	}
	return nil
}

// putIdle keeps c for reuse, or closes it when the pool is full.
func (t *Transport) putIdle(c *conn) {
	max := t.MaxIdlePerHost
	if max <= 0 {
		max = DefaultMaxIdlePerHost
	}
	c.idleSince = time.Now()
	t.mu.Lock()
	if t.idle == nil {
		t.idle = make(map[string][]*conn)
	}
	if len(t.idle[c.addr]) < max {
		t.idle[c.addr] = append(t.idle[c.addr], c)
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	c.close()
}

// conn is one keep-alive connection, owned by one call at a time.
type conn struct {
	t         *Transport
	addr      string
	nc        net.Conn
	lr        io.LimitedReader // under br: bounds the response header
	br        *bufio.Reader
	cw        countingWriter // under bw: tells "nothing sent" from "some sent"
	bw        *bufio.Writer
	peek      peeker
	idleSince time.Time
}

func newConn(t *Transport, addr string, nc net.Conn) *conn {
	c := &conn{t: t, addr: addr, nc: nc}
	c.lr.R = nc
	c.br = bufio.NewReaderSize(&c.lr, bufferSize)
	c.cw.w = nc
	c.bw = bufio.NewWriterSize(&c.cw, bufferSize)
	c.peek.init(nc)
	return c
}

func (c *conn) close() { c.nc.Close() }

// aLongTimeAgo is a deadline in the past: it makes blocked reads and
// writes on the connection return at once.
var aLongTimeAgo = time.Unix(1, 0)

// roundTrip sends req and reads the answer's header; the body is read by
// the caller through the returned response, which hands the connection
// back when it reaches the end.
func (c *conn) roundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	stop := func() bool { return true }
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { c.nc.SetDeadline(aLongTimeAgo) })
	}
	fail := func(err error) (*http.Response, error) {
		stop()
		c.close()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, err
	}
	c.cw.n = 0
	err := req.Write(c.bw) // closes req.Body
	if err == nil {
		err = c.bw.Flush()
	}
	if err != nil {
		return fail(writeError{err: err, sent: c.cw.n})
	}
	resp, err := c.readResponse(req)
	if err != nil {
		return fail(err)
	}
	b := &body{rc: resp.Body, c: c, ctx: ctx, stop: stop, keep: !resp.Close && !req.Close}
	if resp.Body == http.NoBody {
		b.finish(true)
		return resp, nil
	}
	resp.Body = b
	return resp, nil
}

// readResponse reads the status line and headers, skipping informational
// (1xx) answers as net/http does.
func (c *conn) readResponse(req *http.Request) (*http.Response, error) {
	limit := c.t.MaxResponseHeaderBytes
	if limit <= 0 {
		limit = DefaultMaxResponseHeaderBytes
	}
	for {
		c.lr.N = limit
		resp, err := http.ReadResponse(c.br, req)
		if err != nil {
			if c.lr.N <= 0 {
				return nil, fmt.Errorf("app response header exceeds %d bytes", limit)
			}
			return nil, readError{err: err, got: c.lr.N != limit || c.br.Buffered() > 0}
		}
		c.lr.N = math.MaxInt64
		switch {
		case resp.StatusCode == http.StatusSwitchingProtocols:
			return nil, errors.New("app answered 101 Switching Protocols to a request that asked for no upgrade")
		case resp.StatusCode >= 100 && resp.StatusCode < 200:
			continue
		}
		return resp, nil
	}
}

// alive reports whether an idle connection can carry another request:
// the peer has not closed it and sent nothing unasked.
func (c *conn) alive() bool {
	if c.br.Buffered() > 0 {
		return false
	}
	return c.peek.peerOpen()
}

// body hands the connection back to the pool once the answer has been
// read to its end, and drops it when closed early or failed.
type body struct {
	rc   io.ReadCloser
	c    *conn
	ctx  context.Context
	stop func() bool // stops the cancellation hook; false if it already ran
	keep bool        // neither side asked to close the connection
	mu   sync.Mutex
	done bool
	err  error // what Read returns once done
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	done, err := b.done, b.err
	b.mu.Unlock()
	if done {
		return 0, err
	}
	n, err := b.rc.Read(p)
	switch {
	case err == io.EOF:
		b.finish(true)
	case err != nil:
		if ctxErr := b.ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		b.finish(false)
	}
	return n, err
}

// Close drops the connection unless the body was read to its end: what
// is left of it may be large or slow, so it is not drained.
func (b *body) Close() error {
	b.finish(false)
	return nil
}

// finish releases the connection once: back to the pool when the answer
// was read whole and the cancellation hook had not fired, closed
// otherwise.
func (b *body) finish(whole bool) {
	b.mu.Lock()
	if b.done {
		b.mu.Unlock()
		return
	}
	b.done = true
	b.err = io.EOF
	if !whole {
		b.err = http.ErrBodyReadAfterClose
	}
	b.mu.Unlock()
	hookIdle := b.stop()
	if whole && b.keep && hookIdle {
		b.c.t.putIdle(b.c)
		return
	}
	b.c.close()
}

// countingWriter counts the bytes that reached the connection.
type countingWriter struct {
	w io.Writer
	n int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	w.n += int64(n)
	return n, err
}

// writeError is a failure to send the request; sent is how many bytes
// reached the connection before it.
type writeError struct {
	err  error
	sent int64
}

func (e writeError) Error() string { return "writing the request: " + e.err.Error() }
func (e writeError) Unwrap() error { return e.err }

// readError is a failure to read the answer's header; got tells whether
// any of it had arrived.
type readError struct {
	err error
	got bool
}

func (e readError) Error() string { return "reading the response: " + e.err.Error() }
func (e readError) Unwrap() error { return e.err }

// canRetry reports whether a failed call on a reused connection may be
// sent again, with net/http's rules: when nothing of it was sent, or when
// the connection ended before any answer and the method is replayable.
func canRetry(req *http.Request, err error) bool {
	if req.Context().Err() != nil {
		return false
	}
	var we writeError
	if errors.As(err, &we) {
		return we.sent == 0
	}
	var re readError
	if errors.As(err, &re) && !re.got && isReplayable(req) {
		return errors.Is(re.err, io.EOF) || errors.Is(re.err, io.ErrUnexpectedEOF) || isReset(re.err)
	}
	return false
}

func isReplayable(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return req.Header["Idempotency-Key"] != nil || req.Header["X-Idempotency-Key"] != nil
}

// rewind returns a copy of req with a fresh body for a second attempt.
func rewind(req *http.Request) (*http.Request, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return req, nil
	}
	b, err := req.GetBody()
	if err != nil {
		return nil, fmt.Errorf("rewinding the request body for a retry: %w", err)
	}
	r2 := *req
	r2.Body = b
	return &r2, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// hostPort is the address to dial: the URL's host with port 80 when it
// names none.
func hostPort(req *http.Request) string {
	host := req.URL.Host
	if _, port, err := net.SplitHostPort(host); err == nil && port != "" {
		return host
	}
	return net.JoinHostPort(req.URL.Hostname(), "80")
}
