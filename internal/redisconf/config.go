package redisconf

import (
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Redis deployment types accepted by redisType.
const (
	TypeNode    = "node"
	TypeCluster = "cluster"
)

// Config is the parsed connection metadata.
type Config struct {
	Host         string // redisHost (with redisPort applied), CSV for cluster
	Username     string
	Password     string
	DB           int
	Type         string // TypeNode or TypeCluster
	TLS          bool
	SkipVerify   bool
	ClientCert   string // PEM
	ClientKey    string // PEM
	Failover     bool
	SentinelName string
	SentinelUser string
	SentinelPass string
	MaxRetries   int
	MinRetry     time.Duration
	MaxRetry     time.Duration
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	PoolSize     int
	PoolTimeout  time.Duration
	MinIdleConns int
	IdleTimeout  time.Duration
	MaxConnAge   time.Duration
}

// Defaults are the values used when the metadata omits a key; Dapr's Redis
// components differ here (the state store retries 3 times 2s apart, pub/sub
// keeps go-redis's defaults, which zero values select).
type Defaults struct {
	MaxRetries int
	MinRetry   time.Duration
}

// Parse reads the connection metadata. Unknown keys are ignored, so a
// component parses its own keys from the same Props.
func Parse(p Props, d Defaults) (Config, error) {
	c := Config{
		Username:     p.Str("redisUsername"),
		Password:     p.Str("redisPassword"),
		ClientCert:   p.Str("clientCert"),
		ClientKey:    p.Str("clientKey"),
		SentinelName: p.Str("sentinelMasterName"),
		SentinelUser: p.Str("sentinelUsername"),
		SentinelPass: p.Str("sentinelPassword"),
	}
	var err error
	if c.Host, err = hostOf(p); err != nil {
		return Config{}, err
	}
	if c.Type, err = typeOf(p); err != nil {
		return Config{}, err
	}
	useEntraID, err := parseBools(p, &c)
	if err != nil {
		return Config{}, err
	}
	if err = parseNumbers(p, d, &c); err != nil {
		return Config{}, err
	}
	if err = parseDurations(p, d, &c); err != nil {
		return Config{}, err
	}
	if c.Failover && c.SentinelName == "" {
		return Config{}, fmt.Errorf("metadata sentinelMasterName is required when failover is true")
	}
	if useEntraID {
		return Config{}, fmt.Errorf("metadata useEntraID: Entra ID authentication is not supported")
	}
	// idleCheckFrequency is accepted and ignored: go-redis v9 has no reaper.
	return c, nil
}

func hostOf(p Props) (string, error) {
	host := p.Str("redisHost")
	if host == "" {
		return "", fmt.Errorf("metadata redisHost is required")
	}
	// redisPort completes a host given without a port.
	if port := p.Str("redisPort"); port != "" && !strings.Contains(host, ",") {
		if _, _, err := net.SplitHostPort(host); err != nil {
			host = net.JoinHostPort(host, port)
		}
	}
	return host, nil
}

func typeOf(p Props) (string, error) {
	switch t := strings.ToLower(p.Str("redisType")); t {
	case "", TypeNode:
		return TypeNode, nil
	case TypeCluster:
		return TypeCluster, nil
	default:
		return "", fmt.Errorf("metadata redisType: %q is not one of node, cluster", t)
	}
}

// parseBools fills the boolean settings and reports whether Entra ID
// authentication was asked for (useEntraID, or its old name useAzureAD).
func parseBools(p Props, c *Config) (useEntraID bool, err error) {
	if c.TLS, err = p.Bool("enableTLS"); err != nil {
		return false, err
	}
	if c.SkipVerify, err = p.Bool("insecureSkipTLSVerify"); err != nil {
		return false, err
	}
	if c.Failover, err = p.Bool("failover"); err != nil {
		return false, err
	}
	if useEntraID, err = p.Bool("useEntraID"); err != nil || useEntraID {
		return useEntraID, err
	}
	return p.Bool("useAzureAD")
}

func parseNumbers(p Props, d Defaults, c *Config) error {
	var err error
	if c.DB, err = p.Int(0, "redisDB"); err != nil {
		return err
	}
	if c.MaxRetries, err = p.Int(d.MaxRetries, "redisMaxRetries"); err != nil {
		return err
	}
	if c.PoolSize, err = p.Int(0, "poolSize"); err != nil {
		return err
	}
	c.MinIdleConns, err = p.Int(0, "minIdleConns")
	return err
}

func parseDurations(p Props, d Defaults, c *Config) error {
	fields := []struct {
		key string
		def time.Duration
		dst *time.Duration
	}{
		{"redisMinRetryInterval", d.MinRetry, &c.MinRetry},
		{"redisMaxRetryInterval", 0, &c.MaxRetry},
		{"dialTimeout", 0, &c.DialTimeout},
		{"readTimeout", 0, &c.ReadTimeout},
		{"writeTimeout", 0, &c.WriteTimeout},
		{"poolTimeout", 0, &c.PoolTimeout},
		{"idleTimeout", 0, &c.IdleTimeout},
		{"maxConnAge", 0, &c.MaxConnAge},
	}
	for _, f := range fields {
		v, err := p.Duration(f.def, f.key)
		if err != nil {
			return err
		}
		*f.dst = v
	}
	return nil
}

// Options maps the config onto go-redis options. Zero values leave go-redis
// defaults in place. The caller sets ClientName.
func (c Config) Options() (*goredis.UniversalOptions, error) {
	o := &goredis.UniversalOptions{
		Addrs:                 []string{c.Host},
		DB:                    c.DB,
		Username:              c.Username,
		Password:              c.Password,
		MaxRetries:            c.MaxRetries,
		MinRetryBackoff:       c.MinRetry,
		MaxRetryBackoff:       c.MaxRetry,
		DialTimeout:           c.DialTimeout,
		ReadTimeout:           c.ReadTimeout,
		WriteTimeout:          c.WriteTimeout,
		PoolSize:              c.PoolSize,
		PoolTimeout:           c.PoolTimeout,
		MinIdleConns:          c.MinIdleConns,
		ConnMaxIdleTime:       c.IdleTimeout,
		ConnMaxLifetime:       c.MaxConnAge,
		ContextTimeoutEnabled: true,
		IsClusterMode:         c.Type == TypeCluster,
	}
	if c.Type == TypeCluster || c.Failover {
		o.Addrs = splitHosts(c.Host)
	}
	if c.Failover {
		o.MasterName = c.SentinelName
		o.SentinelUsername = c.SentinelUser
		o.SentinelPassword = c.SentinelPass
	}
	if c.TLS {
		tc, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
		o.TLSConfig = tc
	}
	return o, nil
}

func (c Config) tlsConfig() (*tls.Config, error) {
	// Verification stays on unless insecureSkipTLSVerify asks otherwise.
	tc := &tls.Config{InsecureSkipVerify: c.SkipVerify} //nolint:gosec // opt-in by metadata
	if c.ClientCert != "" && c.ClientKey != "" {
		cert, err := tls.X509KeyPair([]byte(c.ClientCert), []byte(c.ClientKey))
		if err != nil {
			return nil, fmt.Errorf("metadata clientCert/clientKey: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func splitHosts(s string) []string {
	var out []string
	for _, h := range strings.Split(s, ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}

// ClientName is the connection name for a component, shown in CLIENT LIST
// so operators can tell which component a connection belongs to: prefix,
// then ":component" when there is one. Redis rejects spaces and newlines in
// names, so those become underscores.
func ClientName(prefix, component string) string {
	name := prefix
	if component != "" {
		name += ":" + component
	}
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f {
			return '_'
		}
		return r
	}, name)
}
