package http

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/outrigger/outrigger/internal/bindings"
)

// defaultMaxResponseBody is Dapr's default maxResponseBodySize (100Mi).
const defaultMaxResponseBody = 100 << 20

// config is the parsed component metadata.
type config struct {
	url             string
	responseTimeout time.Duration // 0 = none
	maxResponseBody int64         // <= 0 = unlimited
	tokenHeader     string
	token           string
	errorIfNot2XX   bool
	tls             *tls.Config
}

func parseConfig(props map[string]string) (config, error) {
	c := config{maxResponseBody: defaultMaxResponseBody, errorIfNot2XX: true}
	var ok bool
	if c.url, ok = bindings.Prop(props, "url"); !ok {
		return c, errors.New("metadata url is required")
	}
	var err error
	if v, ok := bindings.Prop(props, "responseTimeout"); ok {
		if c.responseTimeout, err = parseDuration(v); err != nil {
			return c, fmt.Errorf("metadata responseTimeout: %w", err)
		}
	}
	if v, ok := bindings.Prop(props, "maxResponseBodySize"); ok {
		if c.maxResponseBody, err = parseByteSize(v); err != nil {
			return c, fmt.Errorf("metadata maxResponseBodySize: %w", err)
		}
	}
	if v, ok := bindings.Prop(props, "errorIfNot2XX"); ok {
		c.errorIfNot2XX = bindings.IsTruthy(v)
	}
	c.token, _ = bindings.Prop(props, "securityToken")
	c.tokenHeader, _ = bindings.Prop(props, "securityTokenHeader")
	if c.tls, err = tlsConfig(props); err != nil {
		return c, err
	}
	return c, nil
}

// parseDuration accepts a Go duration or a whole number of seconds.
func parseDuration(v string) (time.Duration, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration", v)
	}
	return d, nil
}

// byteSuffixes are the Kubernetes quantity suffixes Dapr accepts for sizes.
var byteSuffixes = []struct {
	suffix string
	mult   int64
}{
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"Pi", 1 << 50}, {"Ei", 1 << 60},
	{"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"P", 1e15}, {"E", 1e18},
}

// parseByteSize reads a size in bytes: a plain integer or one with a
// quantity suffix ("100Mi", "10M").
func parseByteSize(v string) (int64, error) {
	v = strings.TrimSpace(v)
	mult := int64(1)
	for _, s := range byteSuffixes {
		if strings.HasSuffix(v, s.suffix) {
			v, mult = strings.TrimSuffix(v, s.suffix), s.mult
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size", v)
	}
	return n * mult, nil
}

// tlsConfig builds the client TLS settings: a root CA to trust, a client
// certificate for mutual TLS and the renegotiation policy. Each PEM value
// may be the PEM itself or a path to a file holding it.
func tlsConfig(props map[string]string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if v, ok := bindings.Prop(props, "MTLSRootCA"); ok {
		ca, err := pemBytes("MTLSRootCA", v)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, errors.New("metadata MTLSRootCA holds no PEM certificate")
		}
		tc.RootCAs = pool
	}
	certV, hasCert := bindings.Prop(props, "MTLSClientCert")
	keyV, hasKey := bindings.Prop(props, "MTLSClientKey")
	if hasCert && hasKey {
		certPEM, err := pemBytes("MTLSClientCert", certV)
		if err != nil {
			return nil, err
		}
		keyPEM, err := pemBytes("MTLSClientKey", keyV)
		if err != nil {
			return nil, err
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("metadata MTLSClientCert/MTLSClientKey: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	if v, ok := bindings.Prop(props, "MTLSRenegotiation"); ok {
		switch v {
		case "RenegotiateNever":
			tc.Renegotiation = tls.RenegotiateNever
		case "RenegotiateOnceAsClient":
			tc.Renegotiation = tls.RenegotiateOnceAsClient
		case "RenegotiateFreelyAsClient":
			tc.Renegotiation = tls.RenegotiateFreelyAsClient
		default:
			return nil, fmt.Errorf("metadata MTLSRenegotiation: invalid value %q", v)
		}
	}
	return tc, nil
}

// pemBytes returns v when it is PEM, else the content of the file it names.
func pemBytes(key, v string) ([]byte, error) {
	if block, _ := pem.Decode([]byte(v)); block != nil {
		return []byte(v), nil
	}
	b, err := os.ReadFile(v)
	if err != nil {
		return nil, fmt.Errorf("metadata %s is neither PEM nor a readable file: %w", key, err)
	}
	return b, nil
}
