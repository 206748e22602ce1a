package nameresolution

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// HostAddress returns the address this sidecar advertises to others. env is
// the value of DAPR_HOST_IP (the caller reads the environment); when empty,
// the kernel's preferred outbound IP is used, then the first non-loopback
// interface address, then 127.0.0.1.
func HostAddress(env string) (string, error) {
	if env = strings.TrimSpace(env); env != "" {
		if !validHost(env) {
			return "", fmt.Errorf("DAPR_HOST_IP %q is neither an IP address nor a host name", env)
		}
		return env, nil
	}
	// Connecting a UDP socket only asks the kernel for a route; no packet
	// leaves the host. The documentation ranges make sure nothing real is
	// addressed.
	for _, target := range []string{"192.0.2.1:80", "[2001:db8::1]:80"} {
		if ip, err := outboundIP(target); err == nil {
			return ip.String(), nil
		}
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		if ip := firstNonLoopback(addrs); ip != nil {
			return ip.String(), nil
		}
	}
	return "127.0.0.1", nil
}

func outboundIP(target string) (net.IP, error) {
	conn, err := net.Dial("udp", target)
	if err != nil {
		return nil, fmt.Errorf("route to %s: %w", target, err)
	}
	defer conn.Close()
	addr, ok := conn.LocalAddr().(*net.UDPAddr)
	if !ok || addr.IP.IsUnspecified() || addr.IP.IsLoopback() {
		return nil, errors.New("no usable local address")
	}
	return addr.IP, nil
}

// firstNonLoopback prefers IPv4 global unicast addresses, then IPv6 ones;
// link-local addresses are useless to other hosts without a zone.
func firstNonLoopback(addrs []net.Addr) net.IP {
	var v6 net.IP
	for _, a := range addrs {
		ipnet, ok := a.(*net.IPNet)
		if !ok || !ipnet.IP.IsGlobalUnicast() {
			continue
		}
		if ip4 := ipnet.IP.To4(); ip4 != nil {
			return ip4
		}
		if v6 == nil {
			v6 = ipnet.IP
		}
	}
	return v6
}

// validHost accepts an IP address or a DNS host name (no port, no spaces).
func validHost(s string) bool {
	if net.ParseIP(s) != nil {
		return true
	}
	if len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}
