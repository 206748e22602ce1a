package e2e

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"testing"
	"time"
)

// requireMulticast skips (fails with CI=true) unless a multicast packet sent
// from this host comes back to a listener on it, which mDNS needs.
func requireMulticast(t *testing.T) {
	t.Helper()
	if err := multicastLoops(); err != nil {
		msg := fmt.Sprintf("multicast does not work on this machine (%v); mDNS name resolution needs it", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

func multicastLoops() error {
	// A free port, so the probe never mixes with real mDNS traffic.
	probe, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		return err
	}
	port := probe.LocalAddr().(*net.UDPAddr).Port
	probe.Close()
	group := &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: port}
	l, err := net.ListenMulticastUDP("udp4", nil, group)
	if err != nil {
		return fmt.Errorf("join group: %w", err)
	}
	defer l.Close()
	c, err := net.DialUDP("udp4", nil, group)
	if err != nil {
		return fmt.Errorf("dial group: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("probe")); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	_ = l.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if _, _, err := l.ReadFromUDP(make([]byte, 16)); err != nil {
		return fmt.Errorf("receive: %w", err)
	}
	return nil
}

// TestInvokeMDNS uses the default name resolution (mDNS) end to end.
func TestInvokeMDNS(t *testing.T) {
	requireMulticast(t)
	// Unique ids keep concurrent runs on one network apart.
	suffix := fmt.Sprintf("%08x", rand.Uint32())
	idA, idB := "mdns-a-"+suffix, "mdns-b-"+suffix
	s := startPeers(t,
		peer{appID: idA, internal: freePort(t)},
		peer{appID: idB, internal: freePort(t), appPort: httpApp(t, echoApp("b"))},
	)
	url := s[0].url("/v1.0/invoke/" + idB + "/method/hello?via=mdns")
	// Allow for the responder to come up and answer the first query.
	r := waitInvoke(t, url, 10*time.Second, func(r response) bool { return r.status == 200 })
	e := decodeEcho(t, r)
	if e.App != "b" || e.Path != "/hello" || e.RawQuery != "via=mdns" || e.Header.Get("Dapr-Caller-App-Id") != idA {
		t.Fatalf("echo %+v", e)
	}
}
