package redis

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/outrigger/outrigger/internal/redisconf"
)

// config is the parsed component metadata: the shared Redis connection
// settings plus the state store's own keys.
type config struct {
	redisconf.Config
	defaultTTL   *int // ttlInSeconds: applied when a request has none
	queryIndexes string
}

// parseConfig reads the component metadata with Dapr's defaults for the
// Redis state store. Unknown keys are ignored.
func parseConfig(in map[string]string) (config, error) {
	p := redisconf.NewProps(in)
	defaults, err := stateDefaults(p)
	if err != nil {
		return config{}, err
	}
	conn, err := redisconf.Parse(p, defaults)
	if err != nil {
		return config{}, err
	}
	c := config{Config: conn, queryIndexes: p.Str("queryIndexes")}
	if p.Str("ttlInSeconds") != "" {
		ttl, err := p.Int(0, "ttlInSeconds")
		if err != nil {
			return config{}, err
		}
		if ttl > math.MaxInt32 {
			return config{}, fmt.Errorf("metadata ttlInSeconds: %d is too large", ttl)
		}
		c.defaultTTL = &ttl
	}
	return c, nil
}

// stateDefaults are Dapr's state store defaults: 3 retries, 2s minimum
// backoff. The legacy keys maxRetries and maxRetryBackoff (an integer of
// nanoseconds), still honoured by Dapr, feed those defaults, so the current
// keys win when both are set.
func stateDefaults(p redisconf.Props) (redisconf.Defaults, error) {
	d := redisconf.Defaults{MinRetry: 2 * time.Second}
	var err error
	if d.MaxRetries, err = p.Int(3, "maxRetries"); err != nil {
		return d, err
	}
	if v := p.Str("maxRetryBackoff"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return d, fmt.Errorf("metadata maxRetryBackoff: %q is not an integer", v)
		}
		d.MinRetry = time.Duration(n)
	}
	return d, nil
}
