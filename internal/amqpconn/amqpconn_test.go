package amqpconn

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testutil"
)

func TestTLSConfig(t *testing.T) {
	tests := []struct {
		name          string
		ca, cert, key string
		wantErr       string
	}{
		{name: "none: system roots"},
		{name: "bad CA", ca: "not PEM", wantErr: "caCert"},
		{name: "cert without key", cert: "x", wantErr: "set together"},
		{name: "key without cert", key: "x", wantErr: "set together"},
		{name: "bad pair", cert: "x", key: "y", wantErr: "client certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := TLSConfig(tt.ca, tt.cert, tt.key)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.RootCAs != nil || len(c.Certificates) != 0 {
				t.Errorf("unexpected TLS config: %+v", c)
			}
		})
	}
}

func TestSettingsConfig(t *testing.T) {
	tlsConf, err := TLSConfig("", "", "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		s        Settings
		wantSASL bool
		wantName string
	}{
		{name: "plain", s: Settings{Heartbeat: time.Second}},
		{name: "named", s: Settings{ClientName: "me"}, wantName: "me"},
		{name: "external needs TLS", s: Settings{SASLExternal: true}},
		{name: "external with TLS", s: Settings{SASLExternal: true, TLS: tlsConf}, wantSASL: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.s.Config()
			if c.Heartbeat != tt.s.Heartbeat || c.TLSClientConfig != tt.s.TLS || c.Dial == nil {
				t.Errorf("unexpected config: %+v", c)
			}
			if got := len(c.SASL) == 1; got != tt.wantSASL {
				t.Errorf("SASL = %v, want external: %v", c.SASL, tt.wantSASL)
			}
			if name, _ := c.Properties["connection_name"].(string); name != tt.wantName {
				t.Errorf("connection_name = %q, want %q", name, tt.wantName)
			}
		})
	}
}

func TestConnRedialsAndCloses(t *testing.T) {
	testutil.RequireService(t, "RabbitMQ", "127.0.0.1:5672")
	c := New(Settings{URL: "amqp://guest:guest@127.0.0.1:5672"}, nil)
	first, err := c.Get()
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := c.Get(); again != first {
		t.Error("Get dialled again while the connection was open")
	}
	first.Close()
	second, err := c.Get()
	if err != nil || second == first {
		t.Fatalf("Get after the connection dropped: %v (same connection: %v)", err, second == first)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !second.IsClosed() {
		t.Error("Close left the connection open")
	}
	if _, err := c.Get(); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close: err = %v", err)
	}
}

func TestDialError(t *testing.T) {
	c := New(Settings{URL: "amqp://127.0.0.1:1"}, nil)
	if _, err := c.Get(); err == nil || !strings.Contains(err.Error(), "connect") {
		t.Errorf("err = %v", err)
	}
}
