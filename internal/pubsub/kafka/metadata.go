package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// config is the parsed component metadata. Defaults follow Dapr's
// pubsub.kafka component.
type config struct {
	brokers        []string
	clientID       string
	group          string
	oldest         bool // initialOffset=oldest
	sasl           sasl.Mechanism
	tls            *tls.Config // nil = plaintext
	maxMsgBytes    int32
	acks           kgo.Acks
	compression    kgo.CompressionCodec
	retryInterval  time.Duration
	heartbeat      time.Duration
	sessionTimeout time.Duration
	balancers      []kgo.GroupBalancer
	queueSize      int // per-partition buffered records before fetching pauses
	escapeHeaders  bool
	excludeHeaders *regexp.Regexp
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

func boolProp(props map[string]string, name string) (bool, error) {
	v, ok := prop(props, name)
	if !ok {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("invalid value for '%s': %q is not a boolean", name, v)
	}
	return b, nil
}

// durationProp accepts a Go duration or a plain number in unit.
func durationProp(props map[string]string, def, unit time.Duration, name string) (time.Duration, error) {
	v, ok := prop(props, name)
	if !ok {
		return def, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		return time.Duration(n) * unit, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid value for '%s': %q is not a duration", name, v)
	}
	return d, nil
}

func parseConfig(props map[string]string) (config, error) {
	c := config{
		clientID: "sarama", acks: kgo.AllISRAcks(), compression: kgo.NoCompression(),
		queueSize: 256,
	}
	brokers, ok := prop(props, "brokers")
	if !ok {
		return c, errors.New("missing 'brokers'")
	}
	for _, b := range strings.Split(brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			c.brokers = append(c.brokers, b)
		}
	}
	if v, ok := prop(props, "clientID", "clientId"); ok {
		c.clientID = v
	}
	// Each Dapr app is its own consumer group unless one is named.
	if c.group, ok = prop(props, "consumerGroup"); !ok {
		c.group, _ = prop(props, "consumerID")
	}
	switch v, _ := prop(props, "initialOffset"); strings.ToLower(v) {
	case "", "newest":
	case "oldest":
		c.oldest = true
	default:
		return c, fmt.Errorf("invalid value for 'initialOffset': %q (use newest or oldest)", v)
	}
	if err := parseAuth(props, &c); err != nil {
		return c, err
	}
	if err := parseProducer(props, &c); err != nil {
		return c, err
	}
	return c, parseConsumer(props, &c)
}

// parseAuth handles authType none, password (SASL PLAIN or SCRAM), mtls
// and certificate, and the TLS settings (TLS is on for every authType but
// none unless disableTls is set, as in Dapr).
func parseAuth(props map[string]string, c *config) error {
	authType, ok := prop(props, "authType")
	if !ok {
		return errors.New("missing 'authType' (use none, password, mtls or certificate)")
	}
	authType = strings.ToLower(authType)
	switch authType {
	case "none", "mtls", "certificate":
	case "password":
		m, err := passwordMechanism(props)
		if err != nil {
			return err
		}
		c.sasl = m
	case "oidc", "oidc_private_key_jwt", "awsiam":
		return fmt.Errorf("authType %q is not supported yet (use none, password, mtls or certificate)", authType)
	default:
		return fmt.Errorf("invalid value for 'authType': %q", authType)
	}
	disable, err := boolProp(props, "disableTls")
	if err != nil {
		return err
	}
	if authType == "none" || disable {
		if authType == "mtls" {
			return errors.New("authType 'mtls' needs TLS: remove disableTls")
		}
		return nil
	}
	c.tls, err = tlsConfig(props, authType)
	return err
}

func passwordMechanism(props map[string]string) (sasl.Mechanism, error) {
	user, ok := prop(props, "saslUsername")
	if !ok {
		return nil, errors.New("missing 'saslUsername' for authType 'password'")
	}
	pass, ok := prop(props, "saslPassword")
	if !ok {
		return nil, errors.New("missing 'saslPassword' for authType 'password'")
	}
	switch mech, _ := prop(props, "saslMechanism"); strings.ToUpper(mech) {
	case "", "PLAINTEXT", "PLAIN":
		return plain.Auth{User: user, Pass: pass}.AsMechanism(), nil
	case "SHA-256", "SCRAM-SHA-256":
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism(), nil
	case "SHA-512", "SCRAM-SHA-512":
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism(), nil
	default:
		return nil, fmt.Errorf("invalid value for 'saslMechanism': %q (use PLAINTEXT, SHA-256 or SHA-512)", mech)
	}
}

func tlsConfig(props map[string]string, authType string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	skip, err := boolProp(props, "skipVerify")
	if err != nil {
		return nil, err
	}
	c.InsecureSkipVerify = skip //nolint:gosec // the operator asked for it
	ca, hasCA := prop(props, "caCert")
	if hasCA {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(ca)) {
			return nil, errors.New("invalid 'caCert': no PEM certificate found")
		}
		c.RootCAs = pool
	} else if authType == "certificate" {
		return nil, errors.New("missing 'caCert' for authType 'certificate'")
	}
	cert, hasCert := prop(props, "clientCert")
	key, hasKey := prop(props, "clientKey")
	if hasCert != hasKey {
		return nil, errors.New("'clientCert' and 'clientKey' must be set together")
	}
	if hasCert && authType == "mtls" {
		pair, err := tls.X509KeyPair([]byte(cert), []byte(key))
		if err != nil {
			return nil, fmt.Errorf("invalid client certificate or key: %w", err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c, nil
}

func parseProducer(props map[string]string, c *config) error {
	if v, ok := prop(props, "maxMessageBytes"); ok {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 0 {
			return fmt.Errorf("invalid value for 'maxMessageBytes': %q", v)
		}
		c.maxMsgBytes = int32(n)
	}
	switch v, _ := prop(props, "producerRequiredAcks"); strings.ToLower(v) {
	case "", "all", "waitforall", "-1":
	case "local", "leader", "waitforlocal", "1":
		c.acks = kgo.LeaderAck()
	case "none", "noresponse", "0":
		c.acks = kgo.NoAck()
	default:
		return fmt.Errorf("invalid value for 'producerRequiredAcks': %q (use all, local or none)", v)
	}
	switch v, _ := prop(props, "compression"); strings.ToLower(v) {
	case "", "none":
	case "gzip":
		c.compression = kgo.GzipCompression()
	case "snappy":
		c.compression = kgo.SnappyCompression()
	case "lz4":
		c.compression = kgo.Lz4Compression()
	case "zstd":
		c.compression = kgo.ZstdCompression()
	default:
		return fmt.Errorf("invalid value for 'compression': %q", v)
	}
	return nil
}

func parseConsumer(props map[string]string, c *config) error {
	var err error
	// A bare number is milliseconds here, as in Dapr.
	if c.retryInterval, err = durationProp(props, 100*time.Millisecond, time.Millisecond, "consumeRetryInterval"); err != nil {
		return err
	}
	if c.heartbeat, err = durationProp(props, 3*time.Second, time.Second, "heartbeatInterval"); err != nil {
		return err
	}
	if c.sessionTimeout, err = durationProp(props, 10*time.Second, time.Second, "sessionTimeout"); err != nil {
		return err
	}
	if v, ok := prop(props, "channelBufferSize"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return fmt.Errorf("invalid value for 'channelBufferSize': %q", v)
		}
		c.queueSize = n
	}
	// Unset: cooperative-sticky, which moves only the partitions that must
	// move, falling back to range when a member (a Dapr sidecar) offers
	// only range. Set: exactly the named strategy.
	switch v, _ := prop(props, "consumerGroupRebalanceStrategy"); strings.ToLower(v) {
	case "":
		c.balancers = []kgo.GroupBalancer{kgo.CooperativeStickyBalancer(), kgo.RangeBalancer()}
	case "range":
		c.balancers = []kgo.GroupBalancer{kgo.RangeBalancer()}
	case "sticky":
		c.balancers = []kgo.GroupBalancer{kgo.StickyBalancer()}
	case "roundrobin":
		c.balancers = []kgo.GroupBalancer{kgo.RoundRobinBalancer()}
	case "cooperative-sticky":
		c.balancers = []kgo.GroupBalancer{kgo.CooperativeStickyBalancer()}
	default:
		return fmt.Errorf("invalid value for 'consumerGroupRebalanceStrategy': %q (use range, sticky, roundrobin or cooperative-sticky)", v)
	}
	if c.escapeHeaders, err = boolProp(props, "escapeHeaders"); err != nil {
		return err
	}
	if v, ok := prop(props, "excludeHeaderMetaRegex"); ok {
		if c.excludeHeaders, err = regexp.Compile(v); err != nil {
			return fmt.Errorf("invalid value for 'excludeHeaderMetaRegex': %w", err)
		}
	}
	return nil
}
