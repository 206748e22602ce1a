package nameresolution

import (
	"net"
	"testing"
)

func TestHostAddressFromEnv(t *testing.T) {
	tests := []struct {
		env     string
		want    string
		wantErr bool
	}{
		{"10.1.2.3", "10.1.2.3", false},
		{" 10.1.2.3 ", "10.1.2.3", false},
		{"fd00::5", "fd00::5", false},
		{"node-1.example.com", "node-1.example.com", false},
		{"10.1.2.3:80", "", true},
		{"two words", "", true},
		{"-bad.example", "", true},
	}
	for _, tt := range tests {
		got, err := HostAddress(tt.env)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("HostAddress(%q) = %q, %v; want %q, err %v", tt.env, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestHostAddressDetected(t *testing.T) {
	got, err := HostAddress("")
	if err != nil {
		t.Fatal(err)
	}
	ip := net.ParseIP(got)
	if ip == nil {
		t.Fatalf("HostAddress(\"\") = %q, not an IP", got)
	}
	// Loopback is only the last resort; if the machine has a route out the
	// detected address must be that route's source.
	if want, err := outboundIP("192.0.2.1:80"); err == nil && !ip.Equal(want) {
		t.Fatalf("HostAddress(\"\") = %s, want outbound IP %s", got, want)
	}
}

func TestFirstNonLoopback(t *testing.T) {
	cidr := func(s string) net.Addr {
		ip, n, err := net.ParseCIDR(s)
		if err != nil {
			t.Fatal(err)
		}
		n.IP = ip
		return n
	}
	tests := []struct {
		name  string
		addrs []net.Addr
		want  string
	}{
		{"none", nil, "<nil>"},
		{"loopback only", []net.Addr{cidr("127.0.0.1/8"), cidr("::1/128")}, "<nil>"},
		{"skips link-local", []net.Addr{cidr("fe80::1/64"), cidr("169.254.1.1/16")}, "<nil>"},
		{"ipv4", []net.Addr{cidr("127.0.0.1/8"), cidr("10.0.0.7/24")}, "10.0.0.7"},
		{"prefers ipv4 over earlier ipv6", []net.Addr{cidr("fd00::2/64"), cidr("10.0.0.7/24")}, "10.0.0.7"},
		{"ipv6 when alone", []net.Addr{cidr("fd00::2/64")}, "fd00::2"},
	}
	for _, tt := range tests {
		if got := firstNonLoopback(tt.addrs).String(); got != tt.want {
			t.Errorf("%s: firstNonLoopback = %s, want %s", tt.name, got, tt.want)
		}
	}
}
