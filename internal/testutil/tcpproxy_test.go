package testutil

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// startEcho runs a line echo server for the test's lifetime.
func startEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("echo: listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip dials the proxy and reports whether one line comes back.
func roundTrip(t *testing.T, addr string) (net.Conn, bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial proxy: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return c, false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return c, err == nil && line == "ping\n"
}

func TestProxy(t *testing.T) {
	p := StartProxy(t, startEcho(t))

	c, ok := roundTrip(t, p.Addr())
	if !ok {
		t.Fatal("round trip through proxy failed")
	}

	p.Sever()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read after Sever succeeded, want closed connection")
	}

	if _, ok := roundTrip(t, p.Addr()); !ok {
		t.Fatal("new connection after Sever failed")
	}

	p.SetRefuse(true)
	if _, ok := roundTrip(t, p.Addr()); ok {
		t.Fatal("round trip succeeded while refusing")
	}

	p.SetRefuse(false)
	if _, ok := roundTrip(t, p.Addr()); !ok {
		t.Fatal("round trip failed after refusing ended")
	}
}
