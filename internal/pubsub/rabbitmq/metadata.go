package rabbitmq

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/outrigger/outrigger/internal/amqpconn"
)

// config is the parsed component metadata. Defaults follow Dapr's
// pubsub.rabbitmq component.
type config struct {
	url              string // amqp[s]://user:pass@host[:port][/vhost]
	consumerID       string
	durable          bool
	deleteWhenUnused bool
	autoAck          bool
	requeueInFailure bool
	deliveryMode     uint8
	enableDeadLetter bool
	prefetchCount    int
	maxLen           int64 // 0 = unlimited
	maxLenBytes      int64 // 0 = unlimited
	exchangeKind     string
	reconnectWait    time.Duration
	single           bool          // concurrency=single: one message at a time
	defaultTTL       time.Duration // 0 = none
	publisherConfirm bool
	clientName       string
	heartbeat        time.Duration
	saslExternal     bool
	tls              *tls.Config // set for amqps only
	propsToMetadata  bool
}

// prop looks a key up case-insensitively, trying aliases in turn, as
// Dapr's metadata decoder does; an exact match wins.
func prop(props map[string]string, names ...string) (string, bool) {
	for _, n := range names {
		if v, ok := props[n]; ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v), true
		}
		for k, v := range props {
			if strings.EqualFold(k, n) && strings.TrimSpace(v) != "" {
				return strings.TrimSpace(v), true
			}
		}
	}
	return "", false
}

func boolProp(props map[string]string, def bool, names ...string) (bool, error) {
	v, ok := prop(props, names...)
	if !ok {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("invalid value for '%s': %q is not a boolean", names[0], v)
	}
	return b, nil
}

func intProp(props map[string]string, def int64, names ...string) (int64, error) {
	v, ok := prop(props, names...)
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid value for '%s': %q is not a non-negative integer", names[0], v)
	}
	return n, nil
}

// durationProp accepts a Go duration ("5s") or a number of seconds.
func durationProp(props map[string]string, def time.Duration, names ...string) (time.Duration, error) {
	v, ok := prop(props, names...)
	if !ok {
		return def, nil
	}
	d, err := parseSeconds(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid value for '%s': %q is neither a duration nor a number of seconds", names[0], v)
	}
	return d, nil
}

func parseSeconds(v string) (time.Duration, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(v)
}

func parseConfig(props map[string]string) (config, error) {
	c := config{deleteWhenUnused: true, exchangeKind: "fanout", reconnectWait: 3 * time.Second, heartbeat: 10 * time.Second}
	var err error
	if c.url, err = connectionURL(props); err != nil {
		return c, err
	}
	c.consumerID, _ = prop(props, "consumerID")
	c.clientName, _ = prop(props, "clientName")
	if err := parseFlags(props, &c); err != nil {
		return c, err
	}
	if err := parseNumbers(props, &c); err != nil {
		return c, err
	}
	if err := parseModes(props, &c); err != nil {
		return c, err
	}
	if strings.HasPrefix(c.url, "amqps://") {
		if c.tls, err = tlsConfig(props); err != nil {
			return c, err
		}
	}
	return c, nil
}

func parseFlags(props map[string]string, c *config) error {
	flags := []struct {
		dst  *bool
		def  bool
		name string
	}{
		{&c.durable, false, "durable"},
		{&c.deleteWhenUnused, true, "deletedWhenUnused"},
		{&c.autoAck, false, "autoAck"},
		{&c.requeueInFailure, false, "requeueInFailure"},
		{&c.enableDeadLetter, false, "enableDeadLetter"},
		{&c.publisherConfirm, false, "publisherConfirm"},
		{&c.saslExternal, false, "saslExternal"},
		{&c.propsToMetadata, false, "publishMessagePropertiesToMetadata"},
	}
	for _, f := range flags {
		v, err := boolProp(props, f.def, f.name)
		if err != nil {
			return err
		}
		*f.dst = v
	}
	return nil
}

func parseNumbers(props map[string]string, c *config) error {
	mode, err := intProp(props, 0, "deliveryMode")
	if err != nil {
		return err
	}
	if mode > 2 {
		return fmt.Errorf("invalid value for 'deliveryMode': %d (use 0, 1 or 2)", mode)
	}
	c.deliveryMode = uint8(mode)
	prefetch, err := intProp(props, 0, "prefetchCount")
	if err != nil {
		return err
	}
	c.prefetchCount = int(prefetch)
	if c.maxLen, err = intProp(props, 0, "maxLen"); err != nil {
		return err
	}
	if c.maxLenBytes, err = intProp(props, 0, "maxLenBytes"); err != nil {
		return err
	}
	if c.reconnectWait, err = durationProp(props, c.reconnectWait, "reconnectWaitSeconds", "reconnectWait"); err != nil {
		return err
	}
	if c.defaultTTL, err = durationProp(props, 0, "ttlInSeconds"); err != nil {
		return err
	}
	if c.heartbeat, err = durationProp(props, c.heartbeat, "heartBeat"); err != nil {
		return err
	}
	return nil
}

func parseModes(props map[string]string, c *config) error {
	if v, ok := prop(props, "exchangeKind"); ok {
		switch strings.ToLower(v) {
		case "fanout", "topic", "direct", "headers":
			c.exchangeKind = strings.ToLower(v)
		default:
			return fmt.Errorf("invalid value for 'exchangeKind': %q (use fanout or topic)", v)
		}
	}
	if v, ok := prop(props, "concurrency", "concurrencyMode"); ok {
		switch strings.ToLower(v) {
		case "parallel":
		case "single":
			c.single = true
		default:
			return fmt.Errorf("invalid value for 'concurrency': %q (use parallel or single)", v)
		}
	}
	return nil
}

// connectionURL builds the AMQP URI from connectionString (alias host) or
// from protocol, hostname, username and password.
func connectionURL(props map[string]string) (string, error) {
	protocol, hasProtocol := prop(props, "protocol")
	if cs, ok := prop(props, "connectionString", "host"); ok {
		u, err := url.Parse(cs)
		if err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") || u.Host == "" {
			return "", errors.New("invalid 'connectionString': want amqp://user:pass@host:port or amqps://…")
		}
		if hasProtocol && !strings.EqualFold(protocol, u.Scheme) {
			return "", fmt.Errorf("'protocol' %q does not match the scheme of 'connectionString' (%s)", protocol, u.Scheme)
		}
		return cs, nil
	}
	host, ok := prop(props, "hostname")
	if !ok {
		return "", errors.New("missing 'connectionString' (or 'hostname')")
	}
	if !hasProtocol {
		protocol = "amqp"
	}
	protocol = strings.ToLower(protocol)
	if protocol != "amqp" && protocol != "amqps" {
		return "", fmt.Errorf("invalid 'protocol' %q (use amqp or amqps)", protocol)
	}
	u := url.URL{Scheme: protocol, Host: host}
	user, _ := prop(props, "username")
	pass, hasPass := prop(props, "password")
	if user != "" || hasPass {
		u.User = url.UserPassword(user, pass)
	}
	return u.String(), nil
}

// tlsConfig reads caCert, clientCert and clientKey (PEM text).
func tlsConfig(props map[string]string) (*tls.Config, error) {
	ca, _ := prop(props, "caCert")
	cert, _ := prop(props, "clientCert")
	key, _ := prop(props, "clientKey")
	return amqpconn.TLSConfig(ca, cert, key)
}

// settings are the connection options for amqpconn.
func (c config) settings() amqpconn.Settings {
	return amqpconn.Settings{
		URL: c.url, TLS: c.tls, SASLExternal: c.saslExternal,
		Heartbeat: c.heartbeat, ClientName: c.clientName,
	}
}
