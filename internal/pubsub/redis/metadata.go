package redis

import (
	"fmt"
	"time"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/redisconf"
)

// Defaults as daprd v1.18 applies them. Dapr's docs list redeliverInterval
// 60s and processingTimeout 15s, but its code (components-contrib
// common/component/redis) sets processingTimeout 60s and redeliverInterval
// 15s; we follow the code, which is what a running Dapr sidecar does.
const (
	defaultProcessingTimeout = 60 * time.Second
	defaultRedeliverInterval = 15 * time.Second
	defaultQueueDepth        = 100
	defaultConcurrency       = 10
)

// config is the parsed component metadata: the shared Redis connection
// settings plus the pub/sub keys.
type config struct {
	redisconf.Config
	consumerID string // consumer group, and consumer name within it
	// redeliverInterval is how often pending messages are checked;
	// processingTimeout is how long one may stay pending (unacknowledged)
	// before it is claimed again. Either at 0 disables redelivery.
	redeliverInterval time.Duration
	processingTimeout time.Duration
	queueDepth        int   // XREADGROUP COUNT and the local queue's size
	concurrency       int   // handler calls in flight per subscription
	maxLenApprox      int64 // XADD MAXLEN ~ (0: no trimming)
	streamTTL         time.Duration
}

// redelivery reports whether unacknowledged messages are claimed again.
func (c config) redelivery() bool {
	return c.redeliverInterval > 0 && c.processingTimeout > 0
}

// parseConfig reads the component metadata with Dapr's defaults. Unknown
// keys are ignored. Pub/sub keeps go-redis's retry defaults, as Dapr does.
func parseConfig(in map[string]string) (config, error) {
	p := redisconf.NewProps(in)
	conn, err := redisconf.Parse(p, redisconf.Defaults{})
	if err != nil {
		return config{}, err
	}
	c := config{Config: conn, consumerID: p.Str(pubsub.MetaConsumerID)}
	if c.consumerID == "" {
		return config{}, fmt.Errorf("metadata %s is required (the sidecar defaults it to the app id)", pubsub.MetaConsumerID)
	}
	if err := parseDurations(p, &c); err != nil {
		return config{}, err
	}
	if err := parseCounts(p, &c); err != nil {
		return config{}, err
	}
	return c, nil
}

func parseDurations(p redisconf.Props, c *config) error {
	fields := []struct {
		key string
		def time.Duration
		dst *time.Duration
	}{
		{"redeliverInterval", defaultRedeliverInterval, &c.redeliverInterval},
		{"processingTimeout", defaultProcessingTimeout, &c.processingTimeout},
		{"streamTTL", 0, &c.streamTTL},
	}
	for _, f := range fields {
		d, err := p.Duration(f.def, f.key)
		if err != nil {
			return err
		}
		if d < 0 {
			return fmt.Errorf("metadata %s: %q must not be negative", f.key, p.Str(f.key))
		}
		*f.dst = d
	}
	return nil
}

func parseCounts(p redisconf.Props, c *config) error {
	var err error
	if c.queueDepth, err = p.Int(defaultQueueDepth, "queueDepth"); err != nil {
		return err
	}
	if c.queueDepth < 1 {
		return fmt.Errorf("metadata queueDepth: %d must be at least 1", c.queueDepth)
	}
	if c.concurrency, err = p.Int(defaultConcurrency, "concurrency"); err != nil {
		return err
	}
	if c.concurrency < 1 {
		return fmt.Errorf("metadata concurrency: %d must be at least 1", c.concurrency)
	}
	maxLen, err := p.Int(0, "maxLenApprox")
	if err != nil {
		return err
	}
	if maxLen < 0 {
		return fmt.Errorf("metadata maxLenApprox: %d must not be negative", maxLen)
	}
	c.maxLenApprox = int64(maxLen)
	return nil
}
