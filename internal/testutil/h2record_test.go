package testutil

import (
	"bytes"
	"testing"

	"golang.org/x/net/http2"
)

func TestH2PingsSent(t *testing.T) {
	frames := func(preface bool, pings, acks int) []byte {
		var b bytes.Buffer
		if preface {
			b.WriteString(http2.ClientPreface)
		}
		fr := http2.NewFramer(&b, nil)
		_ = fr.WriteSettings()
		for range pings {
			_ = fr.WritePing(false, [8]byte{1})
		}
		for range acks {
			_ = fr.WritePing(true, [8]byte{1})
		}
		_ = fr.WriteWindowUpdate(0, 1024)
		return b.Bytes()
	}
	tests := []struct {
		name        string
		data        []byte
		want        int
		wantFailure bool
	}{
		{"server side, none", frames(false, 0, 3), 0, false},
		{"server side, two", frames(false, 2, 1), 2, false},
		{"client side, after the preface", frames(true, 1, 0), 1, false},
		{"empty", nil, 0, false},
		{"cut off mid-frame", frames(false, 1, 0)[:12], 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := H2PingsSent(tt.data)
			if (err != nil) != tt.wantFailure || got != tt.want {
				t.Errorf("H2PingsSent = %d, %v; want %d, failure %v", got, err, tt.want, tt.wantFailure)
			}
		})
	}
}
