package appchannel

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestWaitForPortAppearsLater(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host, port := hostPort(t, lis.Addr().String())
	lis.Close()

	started := make(chan net.Listener, 1)
	go func() {
		time.Sleep(150 * time.Millisecond)
		l, err := net.Listen("tcp", lis.Addr().String())
		if err != nil {
			t.Errorf("re-listen: %v", err)
		}
		started <- l
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = WaitForPort(ctx, host, port, false)
	if l := <-started; l != nil {
		l.Close()
	}
	if err != nil {
		t.Fatalf("WaitForPort: %v", err)
	}
}

func TestWaitForPortTLS(t *testing.T) {
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsSrv.Close()
	host, port := hostPort(t, tlsSrv.Listener.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := WaitForPort(ctx, host, port, true); err != nil {
		t.Fatalf("TLS server: %v", err)
	}

	// A listener that never speaks TLS keeps the TLS wait going.
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	go func() {
		for {
			c, err := plain.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	host, port = hostPort(t, plain.Addr().String())
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := WaitForPort(ctx, host, port, true); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("plain listener with TLS: err %v, want deadline exceeded", err)
	}
	if err := WaitForPort(context.Background(), host, port, false); err != nil {
		t.Fatalf("plain listener without TLS: %v", err)
	}
}

func TestWaitForPortGivesUp(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host, port := hostPort(t, lis.Addr().String())
	lis.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = WaitForPort(ctx, host, port, false)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v to notice cancellation", d)
	}
}
