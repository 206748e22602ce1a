// Package amqpconn is the RabbitMQ connection handling shared by the
// pubsub.rabbitmq broker and the bindings.rabbitmq binding: client
// settings, TLS from PEM metadata, and one connection that is dialled on
// first use and again whenever it dropped.
package amqpconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// ErrClosed is returned once Close was called.
var ErrClosed = errors.New("rabbitmq: connection is closed")

// dialTimeout bounds the TCP connect and AMQP handshake of one attempt.
const dialTimeout = 10 * time.Second

// Settings are the client options of a connection.
type Settings struct {
	URL          string      // amqp[s]://user:pass@host[:port][/vhost]
	TLS          *tls.Config // used for amqps URLs
	SASLExternal bool        // authenticate with the client certificate
	Heartbeat    time.Duration
	ClientName   string // shown by the management UI
}

// Config is the amqp091 configuration for s.
func (s Settings) Config() amqp.Config {
	c := amqp.Config{
		Heartbeat:       s.Heartbeat,
		Locale:          "en_US",
		Dial:            amqp.DefaultDial(dialTimeout),
		TLSClientConfig: s.TLS,
	}
	if s.ClientName != "" {
		c.Properties = amqp.Table{"connection_name": s.ClientName}
	}
	if s.SASLExternal && s.TLS != nil {
		c.SASL = []amqp.Authentication{&amqp.ExternalAuth{}}
	}
	return c
}

// TLSConfig builds client TLS settings from PEM text: a CA to trust (else
// the system roots) and an optional client certificate and key.
func TLSConfig(caCert, clientCert, clientKey string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if caCert != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(caCert)) {
			return nil, errors.New("invalid 'caCert': no PEM certificate found")
		}
		c.RootCAs = pool
	}
	if (clientCert == "") != (clientKey == "") {
		return nil, errors.New("'clientCert' and 'clientKey' must be set together")
	}
	if clientCert != "" {
		pair, err := tls.X509KeyPair([]byte(clientCert), []byte(clientKey))
		if err != nil {
			return nil, fmt.Errorf("invalid client certificate or key: %w", err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c, nil
}

// Conn is one connection, dialled on demand. It is safe for concurrent use.
type Conn struct {
	settings Settings
	log      *slog.Logger

	mu     sync.Mutex
	conn   *amqp.Connection
	closed bool
}

// New returns a Conn that dials nothing until Get.
func New(s Settings, log *slog.Logger) *Conn {
	if log == nil {
		log = slog.Default()
	}
	return &Conn{settings: s, log: log}
}

// Get returns the live connection, dialling a new one when there is none
// or the last one dropped. Callers compare the result with what they had
// to notice a new connection (their channels then are gone).
func (c *Conn) Get() (*amqp.Connection, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.conn != nil && !c.conn.IsClosed() {
		return c.conn, nil
	}
	conn, err := amqp.DialConfig(c.settings.URL, c.settings.Config())
	if err != nil {
		return nil, fmt.Errorf("rabbitmq: connect: %w", err)
	}
	if c.conn != nil {
		c.log.Info("reconnected to RabbitMQ")
	}
	c.conn = conn
	return conn, nil
}

// Close closes the connection; later Gets fail with ErrClosed.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.conn == nil || c.conn.IsClosed() {
		return nil
	}
	if err := c.conn.Close(); err != nil && !errors.Is(err, amqp.ErrClosed) {
		return fmt.Errorf("rabbitmq: close connection: %w", err)
	}
	return nil
}
