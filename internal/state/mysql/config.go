package mysql

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/outrigger/outrigger/internal/state/internal/storeutil"
)

// Defaults, as Dapr's MySQL state store has them.
const (
	defaultSchemaName      = "dapr_state_store"
	defaultTableName       = "state"
	defaultMetadataTable   = "dapr_metadata"
	defaultTimeout         = 20 * time.Second
	defaultCleanupInterval = time.Hour
)

// config is the parsed component metadata.
type config struct {
	driver            *mysql.Config // from connectionString, DBName not yet set
	schemaName        string
	tableName         string
	metadataTableName string
	timeout           time.Duration
	cleanupInterval   time.Duration // <= 0 disables the background cleanup
}

func parseConfig(props map[string]string) (config, error) {
	c := config{
		schemaName:        defaultSchemaName,
		tableName:         defaultTableName,
		metadataTableName: defaultMetadataTable,
		timeout:           defaultTimeout,
		cleanupInterval:   defaultCleanupInterval,
	}
	dsn, _ := storeutil.Prop(props, "connectionString")
	if strings.TrimSpace(dsn) == "" {
		return c, errors.New("missing metadata 'connectionString'")
	}
	for _, f := range []struct {
		dst   *string
		names []string
	}{
		{&c.schemaName, []string{"schemaName"}},
		{&c.tableName, []string{"tableName"}},
		{&c.metadataTableName, []string{"metadataTableName"}},
	} {
		if v, ok := storeutil.Prop(props, f.names...); ok && v != "" {
			*f.dst = v
		}
		if !storeutil.ValidIdentifier(*f.dst) {
			return c, fmt.Errorf("invalid %s %q: only letters, digits and '_' are allowed", f.names[0], *f.dst)
		}
	}
	var err error
	if c.timeout, err = storeutil.DurationProp(props, c.timeout, "timeoutInSeconds", "timeout"); err != nil {
		return c, err
	}
	if c.timeout <= 0 {
		c.timeout = defaultTimeout
	}
	if c.cleanupInterval, err = storeutil.DurationProp(props, c.cleanupInterval, "cleanupInterval", "cleanupIntervalInSeconds"); err != nil {
		return c, err
	}
	tlsConf, err := loadTLS(props)
	if err != nil {
		return c, err
	}
	if c.driver, err = driverConfig(dsn, tlsConf); err != nil {
		return c, err
	}
	return c, nil
}

// driverConfig parses the Go MySQL DSN. With a CA from pemPath or
// pemContents, Dapr's DSN carries "tls=custom"; that segment is dropped
// before parsing (the driver would look the name up in its global
// registry) and the TLS config is set directly instead.
func driverConfig(dsn string, tlsConf *tls.Config) (*mysql.Config, error) {
	if tlsConf != nil {
		base, query, _ := strings.Cut(dsn, "?")
		var keep []string
		for _, p := range strings.Split(query, "&") {
			if p != "" && !strings.EqualFold(p, "tls=custom") {
				keep = append(keep, p)
			}
		}
		dsn = base
		if len(keep) > 0 {
			dsn += "?" + strings.Join(keep, "&")
		}
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("invalid connectionString: %w", err)
	}
	if tlsConf != nil {
		cfg.TLS = tlsConf
	}
	// Dapr requires parseTime=true in the DSN; add it rather than fail.
	cfg.ParseTime = true
	return cfg, nil
}

// loadTLS builds a TLS config trusting the CA in pemPath or pemContents.
func loadTLS(props map[string]string) (*tls.Config, error) {
	pem, _ := storeutil.Prop(props, "pemContents")
	if path, _ := storeutil.Prop(props, "pemPath"); path != "" && pem == "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read pemPath: %w", err)
		}
		pem = string(b)
	}
	if pem == "" {
		return nil, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(pem)) {
		return nil, errors.New("pemPath/pemContents holds no PEM certificate")
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
