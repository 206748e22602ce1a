package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// refProxyRole is the first argument that makes loadgen a reference proxy
// instead of a load generator.
const refProxyRole = "reference-proxy"

// The reference path: loadgen → proxy A → proxy B → app, where each proxy is
// a plain Go HTTP reverse proxy (net/http's server and
// httputil.ReverseProxy with its default transport) in its own process,
// on one processor as the sidecars run at a moderate rate (with the
// runtime's default of all processors it spends about a third more). It
// does nothing a sidecar does beyond forwarding, so it shows in the same
// run what a Go HTTP proxy pair costs on this machine: the figure to hold
// the sidecars' against.

// serveRefProxy is the reference proxy's main: it forwards every request to
// 127.0.0.1:<target port>, prints "port N" once it listens, and ends when
// its stdin closes (loadgen is gone or done with it).
func serveRefProxy(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: loadgen %s <target port>", refProxyRole)
	}
	target, err := url.Parse("http://127.0.0.1:" + args[0])
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &http.Transport{MaxIdleConnsPerHost: paceWorkers, IdleConnTimeout: 90 * time.Second}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		io.Copy(io.Discard, os.Stdin)
		srv.Close()
	}()
	fmt.Printf("port %d\n", ln.Addr().(*net.TCPAddr).Port)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// refProxy is one running reference proxy.
type refProxy struct {
	cmd   *exec.Cmd
	stdin io.Closer
	port  int
}

// startRefProxy runs loadgen itself as a reference proxy in front of port.
func startRefProxy(ctx context.Context, target int) (*refProxy, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("reference proxy: %w", err)
	}
	cmd := exec.Command(self, refProxyRole, strconv.Itoa(target))
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("reference proxy: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("reference proxy: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("reference proxy: %w", err)
	}
	p := &refProxy{cmd: cmd, stdin: stdin}
	port, err := readPortLine(ctx, stdout)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("reference proxy: %w", err), p.stop())
	}
	p.port = port
	return p, nil
}

// readPortLine reads the proxy's "port N" line, giving up after readyTimeout.
func readPortLine(ctx context.Context, r io.Reader) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(r).ReadString('\n')
		line <- s
	}()
	select {
	case <-ctx.Done():
		return 0, fmt.Errorf("no port announced: %w", ctx.Err())
	case s := <-line:
		port, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(s), "port "))
		if err != nil {
			return 0, fmt.Errorf("announced %q, want \"port N\"", s)
		}
		return port, nil
	}
}

func (p *refProxy) pid() int { return p.cmd.Process.Pid }

// stop closes the proxy's stdin and waits for it to exit, killing it if it
// does not within stopTimeout.
func (p *refProxy) stop() error {
	p.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(stopTimeout):
		p.cmd.Process.Kill()
		return fmt.Errorf("reference proxy did not stop within %v: killed", stopTimeout)
	}
}

// refPair is proxy A → proxy B → the app.
type refPair struct{ a, b *refProxy }

func startRefPair(ctx context.Context, appPort int) (*refPair, error) {
	b, err := startRefProxy(ctx, appPort)
	if err != nil {
		return nil, err
	}
	a, err := startRefProxy(ctx, b.port)
	if err != nil {
		return nil, errors.Join(err, b.stop())
	}
	return &refPair{a: a, b: b}, nil
}

func (r *refPair) stop() error { return errors.Join(r.a.stop(), r.b.stop()) }
