package jetstream

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// defaultName is the NATS connection name Dapr uses.
const defaultName = "dapr.io - pubsub.jetstream"

// config is the parsed component metadata. The keys and defaults are
// Dapr's; zero values leave the server's defaults in place.
type config struct {
	url   string
	name  string
	jwt   string
	seed  string
	token string
	// tlsCert and tlsKey are file paths, as in Dapr, or inline PEM.
	tlsCert string
	tlsKey  string

	streamName  string
	durableName string
	queueGroup  string

	deliverPolicy jetstream.DeliverPolicy
	startSeq      uint64
	startTime     time.Time
	flowControl   bool
	ackWait       time.Duration
	maxDeliver    int
	backOff       []time.Duration
	maxAckPending int
	replicas      int
	memoryStorage bool
	rateLimit     uint64
	heartbeat     time.Duration
	ackPolicy     jetstream.AckPolicy
	domain        string
	apiPrefix     string
	// parallel handles messages concurrently (concurrency=parallel);
	// otherwise one at a time, in stream order.
	parallel bool
}

// parseConfig reads the component metadata.
func parseConfig(props map[string]string) (config, error) {
	c := config{
		url:         prop(props, "natsURL"),
		name:        prop(props, "name"),
		jwt:         prop(props, "jwt"),
		seed:        prop(props, "seedKey"),
		token:       prop(props, "token"),
		tlsCert:     prop(props, "tls_client_cert"),
		tlsKey:      prop(props, "tls_client_key"),
		streamName:  prop(props, "streamName"),
		durableName: prop(props, "durableName"),
		queueGroup:  prop(props, "queueGroupName"),
		domain:      prop(props, "domain"),
		apiPrefix:   prop(props, "apiPrefix"),
	}
	if c.url == "" {
		return c, errors.New("missing natsURL")
	}
	if c.name == "" {
		c.name = defaultName
	}
	if (c.jwt == "") != (c.seed == "") {
		return c, errors.New("jwt and seedKey must be set together")
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return c, errors.New("tls_client_cert and tls_client_key must be set together")
	}
	if err := parseConsumer(props, &c); err != nil {
		return c, err
	}
	return c, nil
}

// parseConsumer reads the consumer settings.
func parseConsumer(props map[string]string, c *config) error {
	var err error
	num := func(key string, dst *int) {
		if err == nil {
			*dst, err = intProp(props, key)
		}
	}
	num("maxDeliver", &c.maxDeliver)
	num("maxAckPending", &c.maxAckPending)
	num("replicas", &c.replicas)
	if err != nil {
		return err
	}
	if c.startSeq, err = uintProp(props, "startSequence"); err != nil {
		return err
	}
	if c.rateLimit, err = uintProp(props, "rateLimit"); err != nil {
		return err
	}
	startTime, err := uintProp(props, "startTime")
	if err != nil {
		return err
	}
	if startTime > 0 {
		c.startTime = time.Unix(int64(startTime), 0)
	}
	if c.ackWait, err = durationProp(props, "ackWait"); err != nil {
		return err
	}
	if c.heartbeat, err = durationProp(props, "heartbeat"); err != nil {
		return err
	}
	if c.backOff, err = durationList(prop(props, "backOff")); err != nil {
		return fmt.Errorf("invalid backOff: %w", err)
	}
	c.flowControl = truthy(prop(props, "flowControl"))
	c.memoryStorage = truthy(prop(props, "memoryStorage"))
	c.ackPolicy = parseAckPolicy(prop(props, "ackPolicy"))
	if c.deliverPolicy, err = parseDeliverPolicy(props, c); err != nil {
		return err
	}
	switch v := strings.ToLower(prop(props, "concurrency")); v {
	case "", "single":
	case "parallel":
		c.parallel = true
	default:
		return fmt.Errorf("invalid concurrency %q: want single or parallel", v)
	}
	return nil
}

// parseDeliverPolicy maps deliverPolicy (default all). Unset, it follows
// startSequence or startTime when one is given, since the server refuses a
// start position with any other policy.
func parseDeliverPolicy(props map[string]string, c *config) (jetstream.DeliverPolicy, error) {
	v := strings.ToLower(prop(props, "deliverPolicy"))
	switch {
	case v == "" && c.startSeq > 0:
		v = "sequence"
	case v == "" && !c.startTime.IsZero():
		v = "time"
	}
	switch v {
	case "", "all":
		return jetstream.DeliverAllPolicy, nil
	case "last":
		return jetstream.DeliverLastPolicy, nil
	case "new":
		return jetstream.DeliverNewPolicy, nil
	case "sequence":
		if c.startSeq == 0 {
			return 0, errors.New("deliverPolicy sequence needs startSequence")
		}
		return jetstream.DeliverByStartSequencePolicy, nil
	case "time":
		if c.startTime.IsZero() {
			return 0, errors.New("deliverPolicy time needs startTime")
		}
		return jetstream.DeliverByStartTimePolicy, nil
	}
	return 0, fmt.Errorf("invalid deliverPolicy %q: want all, last, new, sequence or time", v)
}

// parseAckPolicy maps ackPolicy; like Dapr, anything unknown is explicit.
func parseAckPolicy(v string) jetstream.AckPolicy {
	switch strings.ToLower(v) {
	case "all":
		return jetstream.AckAllPolicy
	case "none":
		return jetstream.AckNonePolicy
	}
	return jetstream.AckExplicitPolicy
}

// prop looks a key up case-insensitively, as Dapr's metadata decoder does,
// and trims the value.
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

func intProp(props map[string]string, key string) (int, error) {
	v := prop(props, key)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("invalid %s %q: not an integer", key, v)
	}
	return n, nil
}

func uintProp(props map[string]string, key string) (uint64, error) {
	v := prop(props, key)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid %s %q: not a non-negative integer", key, v)
	}
	return n, nil
}

func durationProp(props map[string]string, key string) (time.Duration, error) {
	v := prop(props, key)
	if v == "" {
		return 0, nil
	}
	d, err := parseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("invalid %s %q: neither a duration nor a number of seconds", key, v)
	}
	return d, nil
}

// parseDuration accepts a Go duration ("10s") or whole seconds ("10"), as
// Dapr's metadata decoder does.
func parseDuration(v string) (time.Duration, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(v)
}

// durationList parses "50ms, 1s, 10s". Brackets are tolerated because
// Dapr's own docs show the list as "[1s, 2s, 4s]".
func durationList(v string) ([]time.Duration, error) {
	v = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(v), "["), "]")
	var out []time.Duration
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		d, err := parseDuration(part)
		if err != nil {
			return nil, fmt.Errorf("%q: neither a duration nor a number of seconds", part)
		}
		out = append(out, d)
	}
	return out, nil
}

// truthy reports Dapr's truthy spellings.
func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "t", "true", "y", "yes", "on":
		return true
	}
	return false
}
