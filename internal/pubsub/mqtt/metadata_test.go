package mqtt

import (
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		name  string
		props map[string]string
		want  config // compared without tls
		err   string
	}{
		{name: "defaults", props: map[string]string{"url": "tcp://localhost:1883", "consumerID": "app"},
			want: config{rawURL: "tcp://localhost:1883", broker: "tcp://localhost:1883", clientID: "app", qos: 1}},
		{name: "credentials, options, case-insensitive keys",
			props: map[string]string{"URL": "tcp://user:pw@broker:1884", "ConsumerID": "c1", "QOS": "2", "retain": "true", "cleanSession": "1"},
			want:  config{rawURL: "tcp://user:pw@broker:1884", broker: "tcp://broker:1884", username: "user", password: "pw", clientID: "c1", qos: 2, retain: true, cleanSession: true}},
		{name: "mqtt scheme and default port", props: map[string]string{"url": "mqtt://broker", "consumerID": "c"},
			want: config{rawURL: "mqtt://broker", broker: "tcp://broker:1883", clientID: "c", qos: 1}},
		{name: "tls schemes", props: map[string]string{"url": "mqtts://broker", "consumerID": "c"},
			want: config{rawURL: "mqtts://broker", broker: "ssl://broker:8883", clientID: "c", qos: 1}},
		{name: "websocket keeps its path", props: map[string]string{"url": "wss://broker/mqtt", "consumerID": "c", "qos": "0"},
			want: config{rawURL: "wss://broker/mqtt", broker: "wss://broker:443/mqtt", clientID: "c", qos: 0}},
		{name: "missing url", props: map[string]string{"consumerID": "c"}, err: "missing url"},
		{name: "missing client id", props: map[string]string{"url": "tcp://b:1883"}, err: "missing consumerID"},
		{name: "bad scheme hides the password", props: map[string]string{"url": "http://u:secret@b", "consumerID": "c"}, err: "invalid url http://u:xxxxx@b"},
		{name: "bad qos", props: map[string]string{"url": "tcp://b:1883", "consumerID": "c", "qos": "3"}, err: `invalid qos "3"`},
		{name: "bad caCert", props: map[string]string{"url": "ssl://b", "consumerID": "c", "caCert": "nope"}, err: "invalid caCert"},
		{name: "cert without key", props: map[string]string{"url": "ssl://b", "consumerID": "c", "clientCert": "x"}, err: "clientCert and clientKey"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseConfig(tc.props)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parseConfig error = %v, want one containing %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("error %q leaks the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseConfig: %v", err)
			}
			got.tls = nil
			if got != tc.want {
				t.Fatalf("config = %+v, want %+v", got, tc.want)
			}
		})
	}
}
