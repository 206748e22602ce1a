package mqtt

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/outrigger/outrigger/internal/bindings"
	pubsubmqtt "github.com/outrigger/outrigger/internal/pubsub/mqtt"
)

// Client id suffixes, as Dapr's binding uses them: a broker allows one
// connection per client id, and the input and output each keep their own.
const (
	producerSuffix = "-producer"
	consumerSuffix = "-consumer"
)

// config is the parsed component metadata.
type config struct {
	url          string
	topic        string
	clientID     string // consumerID; the connections add a suffix
	retain       bool
	cleanSession bool
	// maxRetries is backOffMaxRetries: how often a failed event is retried
	// at once; -1 retries until the app takes it.
	maxRetries int
	tls        map[string]string // caCert, clientCert, clientKey as given
}

func parseConfig(props map[string]string) (config, error) {
	var c config
	var ok bool
	if c.url, ok = bindings.Prop(props, "url"); !ok {
		return c, errors.New("missing url")
	}
	if c.topic, ok = bindings.Prop(props, "topic"); !ok {
		return c, errors.New("missing topic")
	}
	// Unlike pub/sub, daprd does not default consumerID for bindings.
	if c.clientID, ok = bindings.Prop(props, "consumerID"); !ok {
		return c, errors.New("missing consumerID (the MQTT client id)")
	}
	v, _ := bindings.Prop(props, "retain")
	c.retain = bindings.IsTruthy(v)
	v, _ = bindings.Prop(props, "cleanSession")
	c.cleanSession = bindings.IsTruthy(v)
	if v, ok := bindings.Prop(props, "backOffMaxRetries"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < -1 {
			return c, fmt.Errorf("invalid backOffMaxRetries %q: want -1 (forever) or a number of retries", v)
		}
		c.maxRetries = n
	}
	c.tls = map[string]string{}
	for _, k := range []string{"caCert", "clientCert", "clientKey"} {
		if v, ok := bindings.Prop(props, k); ok {
			c.tls[k] = v
		}
	}
	// The connection settings are checked as pubsub.mqtt3 checks them.
	if err := pubsubmqtt.ValidateMetadata(c.clientProps(producerSuffix)); err != nil {
		return c, err
	}
	return c, nil
}

// clientProps is the pubsub.mqtt3 metadata for one connection: QoS is
// always 1 for the binding.
func (c config) clientProps(suffix string) map[string]string {
	p := map[string]string{
		"url":          c.url,
		"consumerID":   c.clientID + suffix,
		"qos":          "1",
		"retain":       strconv.FormatBool(c.retain),
		"cleanSession": strconv.FormatBool(c.cleanSession),
	}
	for k, v := range c.tls {
		p[k] = v
	}
	return p
}
