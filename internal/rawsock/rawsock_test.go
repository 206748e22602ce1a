package rawsock

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// networks are the kinds of connection Wrap wraps.
var networks = []string{"tcp", "unix"}

// eachNetwork runs test on a TCP and on a Unix-domain connection pair.
func eachNetwork(t *testing.T, test func(t *testing.T, network string)) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) { test(t, network) })
	}
}

// listen listens on a fresh local address of network.
func listen(t *testing.T, network string) net.Listener {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		dir, err := os.MkdirTemp("", "rawsock") // t.TempDir may pass the path length limit
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		addr = filepath.Join(dir, "s")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// pair returns a wrapped client connection and the server's plain end.
func pair(t *testing.T, network string) (client net.Conn, server net.Conn) {
	t.Helper()
	ln := listen(t, network)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	client, err := Dialer((&net.Dialer{}).DialContext)(t.Context(), network, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func TestWrapOnlyStreamsOnLinux(t *testing.T) {
	tcp, _ := pair(t, "tcp")
	if _, wrapped := tcp.(*Conn); wrapped != Enabled {
		t.Fatalf("TCP wrapped = %v on %s, Enabled = %v", wrapped, runtime.GOOS, Enabled)
	}
	unix, _ := pair(t, "unix")
	if _, wrapped := unix.(*UnixConn); wrapped != Enabled {
		t.Fatalf("Unix wrapped = %v on %s, Enabled = %v", wrapped, runtime.GOOS, Enabled)
	}
	if runtime.GOOS == "linux" && !raceEnabled && !Enabled {
		t.Fatal("raw I/O must be enabled on Linux without the race detector")
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if Wrap(a) != a {
		t.Fatal("a pipe must be returned unchanged")
	}
	gram, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: listen(t, "unix").Addr().String() + "g", Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer gram.Close()
	if Wrap(gram) != net.Conn(gram) {
		t.Fatal("a datagram socket must be returned unchanged")
	}
}

func TestLargeTransfersBothWays(t *testing.T) {
	eachNetwork(t, func(t *testing.T, network string) {
		client, server := pair(t, network)
		// Larger than socket buffers, so writes see EAGAIN and wait, and
		// larger than maxIO, so one call is split.
		payload := make([]byte, 3*maxIO+12345)
		if _, err := rand.Read(payload); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name     string
			from, to net.Conn
		}{
			{"wrapped writes", client, server},
			{"wrapped reads", server, client},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var wg sync.WaitGroup
				wg.Add(1)
				var werr error
				var wn int
				go func() {
					defer wg.Done()
					wn, werr = tt.from.Write(payload)
				}()
				got := make([]byte, len(payload))
				if _, err := io.ReadFull(tt.to, got); err != nil {
					t.Fatal(err)
				}
				wg.Wait()
				if werr != nil || wn != len(payload) {
					t.Fatalf("write: %d bytes, %v", wn, werr)
				}
				if !bytes.Equal(got, payload) {
					t.Fatal("payload corrupted")
				}
			})
		}
	})
}

func TestReadSeesEndOfFile(t *testing.T) {
	eachNetwork(t, func(t *testing.T, network string) {
		client, server := pair(t, network)
		if _, err := server.Write([]byte("bye")); err != nil {
			t.Fatal(err)
		}
		server.Close()
		got, err := io.ReadAll(client)
		if err != nil || string(got) != "bye" {
			t.Fatalf("ReadAll = %q, %v", got, err)
		}
		if n, err := client.Read(make([]byte, 8)); n != 0 || err != io.EOF {
			t.Fatalf("Read after end = %d, %v; want 0, EOF", n, err)
		}
	})
}

func TestReadDeadline(t *testing.T) {
	eachNetwork(t, func(t *testing.T, network string) {
		client, _ := pair(t, network)
		if err := client.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		_, err := client.Read(make([]byte, 8))
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read error = %v; want a timeout", err)
		}
		if !strings.HasPrefix(err.Error(), "read "+network+" ") {
			t.Fatalf("Read error = %q; want net's wording", err)
		}
	})
}

func TestWriteDeadlineWhenPeerDoesNotRead(t *testing.T) {
	eachNetwork(t, func(t *testing.T, network string) {
		client, _ := pair(t, network)
		// The buffer exists before the clock starts: zeroing 64 MiB on a
		// busy machine took longer than the deadline once, so nothing
		// was written.
		payload := make([]byte, 64<<20)
		if err := client.SetWriteDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		n, err := client.Write(payload)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Write error = %v; want the deadline", err)
		}
		if n <= 0 || n >= 64<<20 {
			t.Fatalf("Write wrote %d bytes; want a part", n)
		}
	})
}

func TestCloseWakesBlockedRead(t *testing.T) {
	eachNetwork(t, func(t *testing.T, network string) {
		client, _ := pair(t, network)
		errc := make(chan error, 1)
		go func() {
			_, err := client.Read(make([]byte, 8))
			errc <- err
		}()
		time.Sleep(10 * time.Millisecond) // let the read park on the poller
		client.Close()
		err := <-errc
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read error = %v; want net.ErrClosed", err)
		}
		var opErr *net.OpError
		if !errors.As(err, &opErr) || opErr.Op != "read" {
			t.Fatalf("error %#v is not a read *net.OpError", err)
		}
	})
}

func TestWriteToResetPeerFails(t *testing.T) {
	eachNetwork(t, func(t *testing.T, network string) {
		client, server := pair(t, network)
		// Linger 0 makes a TCP server's close a reset; a Unix socket's
		// writes fail as soon as the other end is closed.
		if tcp, ok := server.(*net.TCPConn); ok {
			if err := tcp.SetLinger(0); err != nil {
				t.Fatal(err)
			}
		}
		server.Close()
		var err error
		for range 100 {
			if _, err = client.Write([]byte("x")); err != nil {
				break
			}
			time.Sleep(time.Millisecond)
		}
		var opErr *net.OpError
		if !errors.As(err, &opErr) || opErr.Op != "write" {
			t.Fatalf("Write error = %v; want a write *net.OpError", err)
		}
	})
}

func TestListenerWrapsAccepted(t *testing.T) {
	eachNetwork(t, func(t *testing.T, network string) {
		ln := Listener{Listener: listen(t, network)}
		defer ln.Close()
		go func() {
			c, err := net.Dial(network, ln.Addr().String())
			if err == nil {
				_, _ = c.Write([]byte("hello"))
				c.Close()
			}
		}()
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, tcp := c.(*Conn)
		_, unix := c.(*UnixConn)
		if wrapped := tcp || unix; wrapped != Enabled {
			t.Fatalf("accepted connection wrapped = %v", wrapped)
		}
		got, err := io.ReadAll(c)
		if err != nil || string(got) != "hello" {
			t.Fatalf("ReadAll = %q, %v", got, err)
		}
	})
}

// A read or write that goes through allocates nothing: the sidecar makes
// several per proxied request.
func TestReadAndWriteAllocateNothing(t *testing.T) {
	eachNetwork(t, func(t *testing.T, network string) {
		if !Enabled {
			t.Skip("raw I/O is off in this build (race detector or not Linux); net's own conn is used")
		}
		client, server := pair(t, network)
		msg := []byte("ping")
		buf := make([]byte, 16)
		allocs := testing.AllocsPerRun(200, func() {
			if _, err := client.Write(msg); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(server, buf[:len(msg)]); err != nil {
				t.Fatal(err)
			}
			if _, err := server.Write(msg); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(client, buf[:len(msg)]); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Fatalf("%.1f allocations per write and read, want 0", allocs)
		}
	})
}
