package protosplit

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

func start(t *testing.T, timeout time.Duration) (*Split, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(ln, timeout)
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		_ = s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, ln.Addr().String()
}

// accept returns what the next connection on l reads, in full.
func accept(t *testing.T, l net.Listener) <-chan string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- "accept: " + err.Error()
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		got <- string(b)
	}()
	return got
}

func TestRoutesByFirstBytes(t *testing.T) {
	tests := []struct {
		name, send string
		http2      bool
	}{
		{"http2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", true},
		{"http1 request", "POST /x HTTP/1.1\r\nHost: a\r\n\r\n", false},
		{"http1 request starting like the preface", "PRINT / HTTP/1.1\r\n\r\n", false},
		{"fewer bytes than the preface start", "PR", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, addr := start(t, time.Second)
			want, other := s.HTTP1(), s.HTTP2()
			if tt.http2 {
				want, other = other, want
			}
			got := accept(t, want)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(c, tt.send); err != nil {
				t.Fatal(err)
			}
			_ = c.(*net.TCPConn).CloseWrite()
			select {
			case b := <-got:
				if b != tt.send {
					t.Fatalf("server read %q, want %q", b, tt.send)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the connection did not reach its protocol's listener")
			}
			c.Close()
			_ = other.Close()
			if _, err := other.Accept(); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("Accept on the closed listener: %v, want net.ErrClosed", err)
			}
		})
	}
}

func TestSilentClientIsClosed(t *testing.T) {
	_, addr := start(t, 50*time.Millisecond)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read from a connection that never spoke: %v, want EOF (closed by the server)", err)
	}
}

func TestCloseEndsBothListeners(t *testing.T) {
	s, _ := start(t, time.Second)
	_ = s.Close()
	for _, l := range []net.Listener{s.HTTP1(), s.HTTP2()} {
		if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
		}
	}
}

func TestCloseEndsConnectionsNotYetClassified(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(ln, time.Hour)
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Usually Serve has accepted the silent connection by now; if not, the
	// listener's close resets it, which the read below sees as well.
	time.Sleep(50 * time.Millisecond)
	_ = s.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve still waits for a silent connection after Close")
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("read from the silent connection after Close: %v, want it closed", err)
	}
}
