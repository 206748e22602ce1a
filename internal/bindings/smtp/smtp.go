// Package smtp is the bindings.smtp output binding: operation create
// sends the request data as an HTML e-mail through an SMTP server.
package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/outrigger/outrigger/internal/bindings"
)

func init() {
	bindings.Outputs.Register("bindings.smtp", func() bindings.Output { return New() })
}

// implicitTLSPort is SMTPS: TLS from the first byte instead of STARTTLS.
const implicitTLSPort = 465

// Binding is the SMTP output binding.
type Binding struct {
	cfg config
	now func() time.Time
}

// New returns an uninitialised binding.
func New() *Binding { return &Binding{now: time.Now} }

// Init parses the metadata; nothing connects until a mail is sent.
func (b *Binding) Init(_ context.Context, md bindings.Metadata) error {
	cfg, err := parseConfig(md.Properties)
	if err != nil {
		return fmt.Errorf("smtp binding error: %w", err)
	}
	b.cfg = cfg
	return nil
}

// Operations lists create.
func (b *Binding) Operations() []string { return []string{bindings.OpCreate} }

// Invoke sends one mail. The body is the data with one level of quoting
// removed (the HTTP API delivers a JSON string quoted); data that is not
// quoted, as from gRPC, is sent as it is.
func (b *Binding) Invoke(ctx context.Context, req *bindings.InvokeRequest) (*bindings.InvokeResponse, error) {
	if req.Operation != bindings.OpCreate {
		return nil, fmt.Errorf("smtp binding error: unsupported operation %s", req.Operation)
	}
	m, err := b.cfg.message.merge(req.Metadata)
	if err != nil {
		return nil, fmt.Errorf("smtp binding error: %w", err)
	}
	body := string(req.Data)
	if s, err := strconv.Unquote(body); err == nil {
		body = s
	}
	env, err := compose(m, body, b.now())
	if err != nil {
		return nil, fmt.Errorf("smtp binding error: %w", err)
	}
	if err := b.send(ctx, env); err != nil {
		return nil, fmt.Errorf("error from smtp binding, sending email failed: %w", err)
	}
	return nil, nil
}

func (b *Binding) tlsConfig() *tls.Config {
	return &tls.Config{ServerName: b.cfg.host, InsecureSkipVerify: b.cfg.skipTLSVerify} //nolint:gosec // opt-in by metadata
}

// send delivers one message: connect (TLS on port 465), STARTTLS when
// offered, authenticate when configured, then MAIL, RCPT and DATA.
func (b *Binding) send(ctx context.Context, env *envelope) error {
	conn, err := b.dial(ctx)
	if err != nil {
		return err
	}
	// net/smtp has no contexts: bound the conversation by the deadline
	// and abort it on cancellation.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	c, err := smtp.NewClient(conn, b.cfg.host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if err := b.handshake(c); err != nil {
		return err
	}
	if err := c.Mail(env.from.Address); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	for _, r := range env.recipients {
		if err := c.Rcpt(r); err != nil {
			return fmt.Errorf("RCPT TO %s: %w", r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(env.msg); err != nil {
		return fmt.Errorf("writing the message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("sending the message: %w", err)
	}
	return c.Quit()
}

func (b *Binding) dial(ctx context.Context) (net.Conn, error) {
	addr := net.JoinHostPort(b.cfg.host, strconv.Itoa(b.cfg.port))
	d := &net.Dialer{Timeout: 10 * time.Second}
	if b.cfg.port == implicitTLSPort {
		td := &tls.Dialer{NetDialer: d, Config: b.tlsConfig()}
		return td.DialContext(ctx, "tcp", addr)
	}
	return d.DialContext(ctx, "tcp", addr)
}

func (b *Binding) handshake(c *smtp.Client) error {
	if err := c.Hello("localhost"); err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(b.tlsConfig()); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	}
	if b.cfg.user == "" {
		return nil
	}
	ok, mechs := c.Extension("AUTH")
	if !ok {
		return errors.New("the server does not offer authentication")
	}
	if err := c.Auth(b.auth(strings.Fields(mechs))); err != nil {
		return fmt.Errorf("AUTH: %w", err)
	}
	return nil
}

// auth picks a mechanism the server offers: CRAM-MD5 (no password on the
// wire), else LOGIN when PLAIN is missing, else PLAIN. net/smtp refuses
// to send a plain password without TLS except to localhost.
func (b *Binding) auth(mechs []string) smtp.Auth {
	has := func(m string) bool {
		return slices.ContainsFunc(mechs, func(x string) bool { return strings.EqualFold(x, m) })
	}
	switch {
	case has("CRAM-MD5"):
		return smtp.CRAMMD5Auth(b.cfg.user, b.cfg.password)
	case has("LOGIN") && !has("PLAIN"):
		return &loginAuth{user: b.cfg.user, password: b.cfg.password, host: b.cfg.host}
	}
	return smtp.PlainAuth("", b.cfg.user, b.cfg.password, b.cfg.host)
}

// Close does nothing: connections last one mail.
func (b *Binding) Close() error { return nil }
