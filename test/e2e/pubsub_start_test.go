package e2e

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A port freePort returns is free only until someone binds it: another
// sidecar started at the same time, or any process's outgoing connection,
// may take it first, and the sidecar then exits with "address already in
// use". These helpers start sidecars so that this costs a retry, not a
// failed test.

const startAttempts = 3

// startSidecars starts the peers one after the other, each healthy before
// the next picks its ports (start-up takes milliseconds).
func startSidecars(t *testing.T, peers ...peer) []*sidecar {
	t.Helper()
	out := make([]*sidecar, len(peers))
	for i, p := range peers {
		out[i] = startRetrying(t, p)
	}
	return out
}

// startRetrying launches p and waits until it is healthy, relaunching it on
// fresh ports when a port was taken.
func startRetrying(t *testing.T, p peer) *sidecar {
	t.Helper()
	for attempt := 1; ; attempt++ {
		p.internal = freePort(t)
		s := p.launch(t)
		err := waitHealthy(s, 15*time.Second)
		if err == nil {
			return s
		}
		if attempt < startAttempts && portTaken(s) {
			t.Logf("sidecar %s lost a port to someone else; starting it again", p.appID)
			continue
		}
		t.Fatalf("sidecar %s: %v", p.appID, err)
	}
}

// startTogether launches the peers stagger apart (to exercise concurrent
// start-up) and waits until each is healthy. Their ports are reserved all
// at once beforehand, so no two of them share one; the flags given last
// override those start picks. One that lost a port anyway is started
// again on its own.
func startTogether(t *testing.T, stagger time.Duration, peers ...peer) []*sidecar {
	t.Helper()
	ports := reservePorts(t, 3*len(peers))
	out := make([]*sidecar, len(peers))
	for i, p := range peers {
		h, g := ports[3*i], ports[3*i+1]
		p.internal = ports[3*i+2]
		p.args = append(p.args, "--dapr-http-port", strconv.Itoa(h), "--dapr-grpc-port", strconv.Itoa(g))
		out[i] = p.launch(t)
		out[i].httpPort, out[i].grpcPort = h, g
		time.Sleep(stagger)
	}
	for i, s := range out {
		err := waitHealthy(s, 15*time.Second)
		switch {
		case err == nil:
		case portTaken(s):
			t.Logf("sidecar %s lost a port to someone else; starting it again", peers[i].appID)
			out[i] = startRetrying(t, peers[i])
		default:
			t.Fatalf("sidecar %s: %v", peers[i].appID, err)
		}
	}
	return out
}

// reservePorts picks n distinct free ports.
func reservePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ports[i] = freePort(t) // distinct, and outside the ephemeral range
	}
	return ports
}

// waitHealthy polls /v1.0/healthz until it answers 204; it fails when the
// sidecar exits or timeout passes.
func waitHealthy(s *sidecar, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := 0
	for time.Now().Before(deadline) {
		if res, err := http.Get(s.url("/v1.0/healthz")); err == nil {
			last = res.StatusCode
			res.Body.Close()
			if last == 204 {
				return nil
			}
		}
		select {
		case err := <-s.done:
			s.done <- err // for the harness's cleanup and exitCode
			return fmt.Errorf("exited early (%v)", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("healthz: last status %d after %v", last, timeout)
}

// portTaken reports whether the sidecar exited because a port was in use.
func portTaken(s *sidecar) bool {
	select {
	case err := <-s.done:
		s.done <- err
		return strings.Contains(s.out.String(), "address already in use")
	default:
		return false
	}
}
