package rabbitmq

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/outrigger/outrigger/internal/amqpconn"
	"github.com/outrigger/outrigger/internal/bindings"
)

// config is the parsed component metadata, with Dapr's keys and defaults.
type config struct {
	conn             amqpconn.Settings
	queue            string
	durable          bool
	deleteWhenUnused bool
	exclusive        bool
	prefetchCount    int
	maxPriority      *uint8        // nil: not a priority queue
	ttl              time.Duration // queue message TTL; 0 = none
	contentType      string
	reconnectWait    time.Duration
}

func parseConfig(props map[string]string) (config, error) {
	c := config{contentType: "text/plain", reconnectWait: 5 * time.Second}
	var err error
	if c.conn, err = connSettings(props); err != nil {
		return c, err
	}
	var ok bool
	if c.queue, ok = bindings.Prop(props, "queueName"); !ok {
		return c, errors.New("missing queueName")
	}
	// Dapr reads booleans leniently: anything but a truthy word is false.
	c.durable = truthy(props, "durable")
	c.deleteWhenUnused = truthy(props, "deleteWhenUnused")
	c.exclusive = truthy(props, "exclusive")
	if v, ok := bindings.Prop(props, "contentType"); ok {
		c.contentType = v
	}
	if err := parseNumbers(props, &c); err != nil {
		return c, err
	}
	return c, nil
}

func parseNumbers(props map[string]string, c *config) error {
	if v, ok := bindings.Prop(props, "prefetchCount"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("invalid prefetchCount %q: want a non-negative integer", v)
		}
		c.prefetchCount = n
	}
	if v, ok := bindings.Prop(props, "maxPriority"); ok {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fmt.Errorf("invalid maxPriority %q: %w", v, err)
		}
		p := uint8(min(n, 255)) // RabbitMQ caps priorities at 255
		c.maxPriority = &p
	}
	var err error
	if c.ttl, err = seconds(props, 0, "ttlInSeconds", "ttl"); err != nil {
		return err
	}
	if c.reconnectWait, err = seconds(props, c.reconnectWait, "reconnectWaitInSeconds", "reconnectWait"); err != nil {
		return err
	}
	return nil
}

// connSettings reads host (an amqp:// or amqps:// URI) and the TLS keys.
func connSettings(props map[string]string) (amqpconn.Settings, error) {
	s := amqpconn.Settings{Heartbeat: 10 * time.Second}
	host, ok := bindings.Prop(props, "host")
	if !ok {
		return s, errors.New("missing host")
	}
	u, err := url.Parse(host)
	if err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") || u.Host == "" {
		return s, errors.New("invalid host: want amqp://user:pass@host:port or amqps://…")
	}
	s.URL = host
	ca, _ := bindings.Prop(props, "caCert")
	cert, _ := bindings.Prop(props, "clientCert")
	key, _ := bindings.Prop(props, "clientKey")
	if ca != "" || cert != "" || key != "" || u.Scheme == "amqps" {
		if s.TLS, err = amqpconn.TLSConfig(ca, cert, key); err != nil {
			return s, err
		}
	}
	s.SASLExternal = truthy(props, "externalSasl", "saslExternal")
	return s, nil
}

func truthy(props map[string]string, names ...string) bool {
	v, _ := bindings.Prop(props, names...)
	return bindings.IsTruthy(v)
}

// seconds reads a whole number of seconds or a Go duration ("90s").
func seconds(props map[string]string, def time.Duration, names ...string) (time.Duration, error) {
	v, ok := bindings.Prop(props, names...)
	if !ok {
		return def, nil
	}
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid %s %q: want a number of seconds or a duration", names[0], v)
	}
	return d, nil
}
