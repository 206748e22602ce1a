package smtp

import (
	"bytes"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strconv"
	"strings"
	"time"
)

// addresses parses a ";"-separated address list.
func addresses(field, list string) ([]*mail.Address, error) {
	var out []*mail.Address
	for a := range strings.SplitSeq(list, ";") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		addr, err := mail.ParseAddress(a)
		if err != nil {
			return nil, fmt.Errorf("%s: invalid address %q: %w", field, a, err)
		}
		out = append(out, addr)
	}
	return out, nil
}

// envelope is a parsed message ready to send.
type envelope struct {
	from       *mail.Address
	to, cc     []*mail.Address
	recipients []string // to, cc and bcc addresses for RCPT TO
	msg        []byte
}

// compose builds the MIME message: an HTML body, quoted-printable, with
// From, To, Cc (never Bcc), Subject and X-Priority headers. Addresses are
// re-rendered after parsing and the subject is encoded, so no value can
// inject a header.
func compose(m message, body string, now time.Time) (*envelope, error) {
	from, err := mail.ParseAddress(m.from)
	if err != nil {
		return nil, fmt.Errorf("emailFrom: invalid address %q: %w", m.from, err)
	}
	e := &envelope{from: from}
	var bcc []*mail.Address
	if e.to, err = addresses("emailTo", m.to); err != nil {
		return nil, err
	}
	if e.cc, err = addresses("emailCC", m.cc); err != nil {
		return nil, err
	}
	if bcc, err = addresses("emailBCC", m.bcc); err != nil {
		return nil, err
	}
	for _, list := range [][]*mail.Address{e.to, e.cc, bcc} {
		for _, a := range list {
			e.recipients = append(e.recipients, a.Address)
		}
	}
	if len(e.recipients) == 0 {
		return nil, fmt.Errorf("emailTo: no address in %q", m.to)
	}
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", from.String())
	header("To", join(e.to))
	if len(e.cc) > 0 {
		header("Cc", join(e.cc))
	}
	header("Subject", mime.QEncoding.Encode("UTF-8", m.subject))
	header("X-Priority", strconv.Itoa(m.priority))
	header("Date", now.Format(time.RFC1123Z))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/html; charset=UTF-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(body)); err != nil {
		return nil, fmt.Errorf("encoding the body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return nil, fmt.Errorf("encoding the body: %w", err)
	}
	b.WriteString("\r\n")
	e.msg = b.Bytes()
	return e, nil
}

func join(list []*mail.Address) string {
	s := make([]string, len(list))
	for i, a := range list {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}
