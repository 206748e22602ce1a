package mqtt

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/outrigger/outrigger/internal/pubsub"
)

// metaRetain is both the component default and the per-message override.
const metaRetain = "retain"

// config is the parsed component metadata (Dapr's keys and defaults).
type config struct {
	rawURL   string // as given, for error messages (redacted)
	broker   string // scheme://host:port[/path] for paho
	username string
	password string
	clientID string
	qos      byte
	retain   bool
	// cleanSession false (the default) keeps the session, its
	// subscriptions and its unacknowledged messages across reconnects for
	// this client id.
	cleanSession bool
	tls          *tls.Config
}

func parseConfig(props map[string]string) (config, error) {
	c := config{
		rawURL:       prop(props, "url"),
		clientID:     prop(props, pubsub.MetaConsumerID),
		qos:          1,
		retain:       truthy(prop(props, metaRetain)),
		cleanSession: truthy(prop(props, "cleanSession")),
	}
	if c.rawURL == "" {
		return c, errors.New("missing url")
	}
	if err := c.parseURL(); err != nil {
		return c, err
	}
	if c.clientID == "" {
		return c, errors.New("missing consumerID (the MQTT client id)")
	}
	if v := prop(props, "qos"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 2 {
			return c, fmt.Errorf("invalid qos %q: want 0, 1 or 2", v)
		}
		c.qos = byte(n)
	}
	var err error
	c.tls, err = tlsConfig(prop(props, "caCert"), prop(props, "clientCert"), prop(props, "clientKey"))
	return c, err
}

// ValidateMetadata reports what Init would reject in props, without
// connecting. bindings.mqtt3, which connects on first use, checks its
// metadata with it.
func ValidateMetadata(props map[string]string) error {
	if _, err := parseConfig(props); err != nil {
		return fmt.Errorf("mqtt: %w", err)
	}
	return nil
}

// defaultPorts fill in a URL without a port.
var defaultPorts = map[string]string{"tcp": "1883", "ssl": "8883", "ws": "80", "wss": "443"}

// parseURL maps Dapr's accepted schemes to paho's and takes the
// credentials out of the URL.
func (c *config) parseURL() error {
	u, err := url.Parse(c.rawURL)
	if err != nil {
		return fmt.Errorf("invalid url: %w", err)
	}
	scheme := strings.ToLower(u.Scheme)
	switch scheme {
	case "mqtt":
		scheme = "tcp"
	case "mqtts", "tcps", "tls":
		scheme = "ssl"
	case "tcp", "ssl", "ws", "wss":
	default:
		return fmt.Errorf("invalid url %s: scheme must be tcp, mqtt, ssl, mqtts, tcps, tls, ws or wss", redact(c.rawURL))
	}
	host := u.Host
	if host == "" {
		return fmt.Errorf("invalid url %s: no host", redact(c.rawURL))
	}
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), defaultPorts[scheme])
	}
	c.broker = scheme + "://" + host
	if scheme == "ws" || scheme == "wss" {
		c.broker += u.EscapedPath()
	}
	if u.User != nil {
		c.username = u.User.Username()
		c.password, _ = u.User.Password()
	}
	return nil
}

// tlsConfig builds the client TLS settings from PEM values; nil when none
// is set (ssl:// then verifies against the system roots).
func tlsConfig(caCert, clientCert, clientKey string) (*tls.Config, error) {
	if caCert == "" && clientCert == "" && clientKey == "" {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if caCert != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(caCert)) {
			return nil, errors.New("invalid caCert: no PEM certificate found")
		}
		tc.RootCAs = pool
	}
	if (clientCert == "") != (clientKey == "") {
		return nil, errors.New("clientCert and clientKey must be set together")
	}
	if clientCert != "" {
		pair, err := tls.X509KeyPair([]byte(clientCert), []byte(clientKey))
		if err != nil {
			return nil, fmt.Errorf("invalid clientCert/clientKey: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}

// redact hides the password of a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}

// prop looks a key up case-insensitively, as Dapr's metadata decoder does.
func prop(props map[string]string, key string) string {
	if v, ok := props[key]; ok {
		return strings.TrimSpace(v)
	}
	for k, v := range props {
		if strings.EqualFold(k, key) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// truthy reports Dapr's truthy spellings.
func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "t", "true", "y", "yes", "on":
		return true
	}
	return false
}
