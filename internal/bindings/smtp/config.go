package smtp

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/outrigger/outrigger/internal/bindings"
)

const defaultPriority = 3

// config is the component metadata. The mail fields are defaults that
// each request may override with the same keys.
type config struct {
	host          string
	port          int
	user          string
	password      string
	skipTLSVerify bool
	message
}

// message is the envelope and headers of one mail.
type message struct {
	from, to, cc, bcc, subject string
	priority                   int
}

func parseConfig(props map[string]string) (config, error) {
	var c config
	c.host, _ = bindings.Prop(props, "host")
	port, _ := bindings.Prop(props, "port")
	if c.host == "" || port == "" {
		return c, errors.New("host and port fields are required in metadata")
	}
	var err error
	if c.port, err = strconv.Atoi(port); err != nil || c.port <= 0 || c.port > 65535 {
		return c, fmt.Errorf("metadata port: %q is not a port number", port)
	}
	c.user, _ = bindings.Prop(props, "user")
	c.password, _ = bindings.Prop(props, "password")
	if (c.user == "") != (c.password == "") {
		return c, errors.New("both user and password fields are required in metadata")
	}
	if v, ok := bindings.Prop(props, "skipTLSVerify"); ok {
		if c.skipTLSVerify, err = strconv.ParseBool(v); err != nil {
			return c, fmt.Errorf("metadata skipTLSVerify: %q is not a boolean", v)
		}
	}
	c.from, _ = bindings.Prop(props, "emailFrom")
	c.to, _ = bindings.Prop(props, "emailTo")
	c.cc, _ = bindings.Prop(props, "emailCC")
	c.bcc, _ = bindings.Prop(props, "emailBCC")
	c.subject, _ = bindings.Prop(props, "subject")
	p, _ := bindings.Prop(props, "priority")
	if c.priority, err = parsePriority(p); err != nil {
		return c, err
	}
	return c, nil
}

// merge overlays the request metadata on the component's defaults.
func (m message) merge(md map[string]string) (message, error) {
	for _, f := range []struct {
		key string
		dst *string
	}{{"emailFrom", &m.from}, {"emailTo", &m.to}, {"emailCC", &m.cc}, {"emailBCC", &m.bcc}, {"subject", &m.subject}} {
		if v := md[f.key]; v != "" {
			*f.dst = v
		}
	}
	if v := md["priority"]; v != "" {
		p, err := parsePriority(v)
		if err != nil {
			return m, err
		}
		m.priority = p
	}
	switch {
	case m.from == "":
		return m, errors.New("emailFrom property not supplied in configuration- or request-metadata")
	case m.to == "":
		return m, errors.New("emailTo property not supplied in configuration- or request-metadata")
	case m.subject == "":
		return m, errors.New("subject property not supplied in configuration- or request-metadata")
	}
	return m, nil
}

// parsePriority reads X-Priority: 1 (highest) to 5 (lowest), default 3.
func parsePriority(v string) (int, error) {
	if v == "" {
		return defaultPriority, nil
	}
	p, err := strconv.Atoi(v)
	if err != nil || p < 1 || p > 5 {
		return 0, fmt.Errorf("priority value must be between 1 (highest) and 5 (lowest), got %q", v)
	}
	return p, nil
}
