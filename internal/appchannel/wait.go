package appchannel

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"time"
)

const (
	waitRetry       = 100 * time.Millisecond
	waitDialTimeout = 500 * time.Millisecond
)

// WaitForPort blocks until address:port accepts a connection (and, with
// useTLS, completes a TLS handshake, certificates unverified), retrying
// every 100ms, or until ctx is done.
func WaitForPort(ctx context.Context, address string, port int, useTLS bool) error {
	addr := net.JoinHostPort(address, strconv.Itoa(port))
	// Since Go 1.23 a stopped timer holds no stale tick, so Reset is safe.
	timer := time.NewTimer(waitRetry)
	timer.Stop()
	defer timer.Stop()
	for {
		err := dialOnce(ctx, addr, useTLS)
		if err == nil {
			return nil
		}
		timer.Reset(waitRetry)
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the app on %s: %w (last error: %v)", addr, ctx.Err(), err)
		case <-timer.C:
		}
	}
}

func dialOnce(ctx context.Context, addr string, useTLS bool) error {
	ctx, cancel := context.WithTimeout(ctx, waitDialTimeout)
	defer cancel()
	nd := &net.Dialer{}
	var (
		conn net.Conn
		err  error
	)
	if useTLS {
		d := &tls.Dialer{NetDialer: nd, Config: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // app certs are not verified
		conn, err = d.DialContext(ctx, "tcp", addr)
	} else {
		conn, err = nd.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return err
	}
	return conn.Close()
}
