package smtp

import (
	"bufio"
	"context"
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/bindings"
)

// received is one mail as the test server saw it.
type received struct {
	auth string // decoded AUTH PLAIN credentials, "" without AUTH
	from string
	rcpt []string
	data string
}

// mailServer is a minimal SMTP server on 127.0.0.1:0 that records mails.
type mailServer struct {
	ln       net.Listener
	withAuth bool
	reject   bool // answer RCPT TO with 550

	mu    sync.Mutex
	mails []received
	wg    sync.WaitGroup
}

func startServer(t *testing.T, withAuth, reject bool) *mailServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &mailServer{ln: ln, withAuth: withAuth, reject: reject}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(conn)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *mailServer) port() string {
	return strconv.Itoa(s.ln.Addr().(*net.TCPAddr).Port)
}

func (s *mailServer) serve(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(conn)
	say := func(line string) { _, _ = io.WriteString(conn, line+"\r\n") }
	say("220 test ESMTP")
	var m received
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		cmd := strings.ToUpper(line)
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			if s.withAuth {
				say("250-test")
				say("250 AUTH PLAIN")
			} else {
				say("250 test")
			}
		case strings.HasPrefix(cmd, "AUTH PLAIN "):
			dec, _ := base64.StdEncoding.DecodeString(line[len("AUTH PLAIN "):])
			m.auth = string(dec)
			say("235 ok")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			m.from = line[len("MAIL FROM:"):]
			say("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			if s.reject {
				say("550 no such user")
				continue
			}
			m.rcpt = append(m.rcpt, line[len("RCPT TO:"):])
			say("250 ok")
		case cmd == "DATA":
			say("354 go on")
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, "."))
			}
			m.data = data.String()
			s.mu.Lock()
			s.mails = append(s.mails, m)
			s.mu.Unlock()
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("502 unknown")
		}
	}
}

func (s *mailServer) all() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.mails...)
}

func newBinding(t *testing.T, props map[string]string) *Binding {
	t.Helper()
	b := New()
	b.now = func() time.Time { return time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC) }
	if err := b.Init(context.Background(), bindings.Metadata{Name: "mail", Properties: props}); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSend(t *testing.T) {
	srv := startServer(t, true, false)
	b := newBinding(t, map[string]string{
		"host": "127.0.0.1", "port": srv.port(), "user": "u", "password": "p",
		"emailFrom": "Sender <from@example.com>", "emailTo": "default@example.com", "subject": "default subject",
	})
	md := map[string]string{"emailTo": "a@example.com; B <b@example.com>", "emailCC": "c@example.com", "emailBCC": "hidden@example.com", "subject": "Grüße\r\nBcc: injected@example.com", "priority": "1"}
	// The HTTP API hands over a JSON string, quotes included.
	res, err := b.Invoke(context.Background(), &bindings.InvokeRequest{Operation: "create", Metadata: md, Data: []byte(`"<b>Hello</b> \u00e9t\u00e9"`)})
	if err != nil || res != nil {
		t.Fatalf("Invoke = %v, %v", res, err)
	}
	mails := srv.all()
	if len(mails) != 1 {
		t.Fatalf("%d mails", len(mails))
	}
	m := mails[0]
	if m.auth != "\x00u\x00p" || m.from != "<from@example.com>" {
		t.Fatalf("auth %q from %q", m.auth, m.from)
	}
	if strings.Join(m.rcpt, ",") != "<a@example.com>,<b@example.com>,<c@example.com>,<hidden@example.com>" {
		t.Fatalf("recipients %v", m.rcpt)
	}
	msg, err := mail.ReadMessage(strings.NewReader(m.data))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subject != "Grüße\r\nBcc: injected@example.com" {
		t.Fatalf("subject %q (%v)", subject, err)
	}
	for k, want := range map[string]string{
		"From": `"Sender" <from@example.com>`, "To": `<a@example.com>, "B" <b@example.com>`, "Cc": "<c@example.com>",
		"Bcc": "", "X-Priority": "1", "Content-Type": "text/html; charset=UTF-8", "Date": "Mon, 06 May 2024 07:08:09 +0000",
	} {
		if got := msg.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	body, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if strings.TrimSpace(string(body)) != "<b>Hello</b> été" {
		t.Fatalf("body %q", body)
	}
}

func TestDefaultsAndRawData(t *testing.T) {
	srv := startServer(t, false, false)
	b := newBinding(t, map[string]string{"host": "127.0.0.1", "port": srv.port(), "emailFrom": "f@example.com", "emailTo": "t@example.com", "subject": "s"})
	// Data from gRPC is not quoted and is sent as it is.
	if _, err := b.Invoke(context.Background(), &bindings.InvokeRequest{Operation: "create", Data: []byte("plain <i>text</i>")}); err != nil {
		t.Fatal(err)
	}
	m := srv.all()[0]
	msg, err := mail.ReadMessage(strings.NewReader(m.data))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if m.auth != "" || strings.Join(m.rcpt, ",") != "<t@example.com>" || msg.Header.Get("X-Priority") != "3" || strings.TrimSpace(string(body)) != "plain <i>text</i>" {
		t.Fatalf("mail %+v body %q", m, body)
	}
}

func TestSendErrors(t *testing.T) {
	srv := startServer(t, false, true)
	base := map[string]string{"host": "127.0.0.1", "port": srv.port()}
	b := newBinding(t, base)
	tests := []struct {
		name string
		md   map[string]string
	}{
		{"no from", map[string]string{"emailTo": "t@example.com", "subject": "s"}},
		{"no to", map[string]string{"emailFrom": "f@example.com", "subject": "s"}},
		{"no subject", map[string]string{"emailFrom": "f@example.com", "emailTo": "t@example.com"}},
		{"bad priority", map[string]string{"emailFrom": "f@example.com", "emailTo": "t@example.com", "subject": "s", "priority": "9"}},
		{"bad address", map[string]string{"emailFrom": "not an address", "emailTo": "t@example.com", "subject": "s"}},
		{"rejected recipient", map[string]string{"emailFrom": "f@example.com", "emailTo": "t@example.com", "subject": "s"}},
	}
	for _, tt := range tests {
		if _, err := b.Invoke(context.Background(), &bindings.InvokeRequest{Operation: "create", Metadata: tt.md, Data: []byte(`"x"`)}); err == nil {
			t.Errorf("%s: succeeded", tt.name)
		}
	}
	// Credentials configured but the server offers no AUTH.
	auth := newBinding(t, map[string]string{"host": "127.0.0.1", "port": srv.port(), "user": "u", "password": "p"})
	if _, err := auth.Invoke(context.Background(), &bindings.InvokeRequest{Operation: "create", Metadata: tests[5].md}); err == nil || !strings.Contains(err.Error(), "authentication") {
		t.Errorf("send without AUTH offered: %v", err)
	}
	if len(srv.all()) != 0 {
		t.Fatal("a mail was accepted")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, props := range []map[string]string{
		{"port": "25"}, {"host": "h"}, {"host": "h", "port": "x"},
		{"host": "h", "port": "25", "user": "u"}, {"host": "h", "port": "25", "password": "p"},
		{"host": "h", "port": "25", "priority": "0"}, {"host": "h", "port": "25", "skipTLSVerify": "maybe"},
	} {
		if err := New().Init(context.Background(), bindings.Metadata{Properties: props}); err == nil {
			t.Errorf("Init(%v) succeeded", props)
		}
	}
}
