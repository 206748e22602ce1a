package testutil

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"golang.org/x/net/http2"
)

// RecordingListener keeps every byte its connections read and wrote, for
// tests that look at the wire.
type RecordingListener struct {
	net.Listener
	mu      sync.Mutex
	in, out bytes.Buffer
}

// NewRecordingListener wraps ln.
func NewRecordingListener(ln net.Listener) *RecordingListener {
	return &RecordingListener{Listener: ln}
}

// Accept wraps each connection so its traffic is kept.
func (l *RecordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &recordingConn{Conn: c, l: l}, nil
}

// Traffic returns copies of what the accepted connections read (from their
// clients) and wrote (to them), all connections together.
func (l *RecordingListener) Traffic() (in, out []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.in.Bytes()), bytes.Clone(l.out.Bytes())
}

type recordingConn struct {
	net.Conn
	l *RecordingListener
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.l.mu.Lock()
	c.l.in.Write(p[:n])
	c.l.mu.Unlock()
	return n, err
}

func (c *recordingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.l.mu.Lock()
	c.l.out.Write(p[:n])
	c.l.mu.Unlock()
	return n, err
}

// H2PingsSent counts the PING frames that are not acknowledgements in one
// direction of one HTTP/2 connection; a client's direction starts with the
// connection preface, which is skipped.
func H2PingsSent(b []byte) (int, error) {
	b = bytes.TrimPrefix(b, []byte(http2.ClientPreface))
	fr := http2.NewFramer(nil, bytes.NewReader(b))
	fr.SetMaxReadFrameSize(1 << 24)
	n := 0
	for {
		f, err := fr.ReadFrame()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if p, ok := f.(*http2.PingFrame); ok && !p.IsAck() {
			n++
		}
	}
}

// ExpectNoH2Pings fails t when frames, one direction of an HTTP/2
// connection, hold a PING that is not an acknowledgement; who names the
// sender in the failure.
func ExpectNoH2Pings(t testing.TB, frames []byte, who string) {
	t.Helper()
	pings, err := H2PingsSent(frames)
	if err != nil {
		t.Fatal(err)
	}
	if pings > 0 {
		t.Errorf("%s sent %d PINGs", who, pings)
	}
}
