package mail

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/puente-org/puente/mail/smtptest"
)

const testFrom = "Puente <no-reply@example.org>"

func newTestSender(t *testing.T, rawURL string) *SMTPSender {
	t.Helper()
	s, err := NewSMTPSender(rawURL, testFrom)
	if err != nil {
		t.Fatalf("NewSMTPSender: %v", err)
	}
	return s
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	// Generous: only a hang should ever hit it.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func onlyMessage(t *testing.T, srv *smtptest.Server) smtptest.Received {
	t.Helper()
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("server received %d messages, want 1", len(msgs))
	}
	if msgs[0].ParseError != nil {
		t.Fatalf("parsing received message: %v\n%s", msgs[0].ParseError, msgs[0].Data)
	}
	return msgs[0]
}

func TestSendSpanishTextAndHTML(t *testing.T) {
	srv := smtptest.NewServer(t)
	s := newTestSender(t, srv.URL())
	m := Message{
		ID:      42,
		Kind:    "sign_in",
		To:      "José Núñez <jose@example.com>",
		Subject: "Tu enlace de acceso a Puente — ¿señal? ñandú",
		Text:    "Hola, José:\n\nPulsa aquí para entrar: https://puente.example.org/acceso?token=abc\n\nGracias — el equipo de Puente. Ñ á é í ó ú ü ¿¡\n",
		HTML:    "<p>Hola, <b>José</b>:</p><p><a href=\"https://puente.example.org/acceso?token=abc\">Pulsa aquí</a> ñ ü ¿¡</p>",
	}
	if err := s.Send(testCtx(t), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := onlyMessage(t, srv)

	if got.Subject != m.Subject {
		t.Errorf("Subject = %q, want %q", got.Subject, m.Subject)
	}
	if strings.TrimRight(got.Text, "\n") != strings.TrimRight(m.Text, "\n") {
		t.Errorf("Text = %q, want %q", got.Text, m.Text)
	}
	if strings.TrimRight(got.HTML, "\n") != m.HTML {
		t.Errorf("HTML = %q, want %q", got.HTML, m.HTML)
	}
	if mt, _, _ := mime.ParseMediaType(got.Header.Get("Content-Type")); mt != "multipart/alternative" {
		t.Errorf("Content-Type = %q, want multipart/alternative", mt)
	}
	if got.From != "no-reply@example.org" || len(got.To) != 1 || got.To[0] != "jose@example.com" {
		t.Errorf("envelope = %q -> %q", got.From, got.To)
	}
	if from, err := got.Header.AddressList("From"); err != nil || len(from) != 1 || from[0].Name != "Puente" || from[0].Address != "no-reply@example.org" {
		t.Errorf("From header = %v (%v)", from, err)
	}
	if to, err := got.Header.AddressList("To"); err != nil || len(to) != 1 || to[0].Name != "José Núñez" || to[0].Address != "jose@example.com" {
		t.Errorf("To header = %v (%v)", to, err)
	}
	if v := got.Header.Get("Auto-Submitted"); v != "auto-generated" {
		t.Errorf("Auto-Submitted = %q", v)
	}
	if id := got.Header.Get("Message-Id"); !strings.HasPrefix(id, "<puente.42.") || !strings.HasSuffix(id, "@example.org>") {
		t.Errorf("Message-ID = %q", id)
	}
	if d, err := got.Header.Date(); err != nil || time.Since(d) > time.Hour || time.Until(d) > time.Hour {
		t.Errorf("Date = %v (%v)", d, err)
	}
	if ua := got.Header.Get("User-Agent") + got.Header.Get("X-Mailer"); ua != "" {
		t.Errorf("mailer advertised: %q", ua)
	}
}

func TestSendTextOnly(t *testing.T) {
	srv := smtptest.NewServer(t)
	s := newTestSender(t, srv.URL())
	if err := s.Send(testCtx(t), Message{ID: 1, To: "ana@example.com", Subject: "Hola", Text: "Sólo texto"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := onlyMessage(t, srv)
	if mt, _, _ := mime.ParseMediaType(got.Header.Get("Content-Type")); mt != "text/plain" {
		t.Errorf("Content-Type = %q, want text/plain", mt)
	}
	if strings.TrimRight(got.Text, "\n") != "Sólo texto" || got.HTML != "" {
		t.Errorf("Text = %q, HTML = %q", got.Text, got.HTML)
	}
}

func TestSendSubjectCannotInjectHeaders(t *testing.T) {
	srv := smtptest.NewServer(t)
	s := newTestSender(t, srv.URL())
	m := Message{ID: 1, To: "ana@example.com", Subject: "Hola\r\nBcc: evil@example.com", Text: "x"}
	if err := s.Send(testCtx(t), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := onlyMessage(t, srv)
	if got.Header.Get("Bcc") != "" || got.Subject != "Hola Bcc: evil@example.com" {
		t.Errorf("Subject = %q, Bcc = %q", got.Subject, got.Header.Get("Bcc"))
	}
}

func TestSendInvalidMessageIsPermanent(t *testing.T) {
	srv := smtptest.NewServer(t)
	s := newTestSender(t, srv.URL())
	for _, m := range []Message{
		{ID: 1, To: "not an address", Subject: "x", Text: "x"},
		{ID: 2, To: "ana@example.com", Subject: "x"},
	} {
		err := s.Send(testCtx(t), m)
		if !errors.Is(err, ErrInvalidMessage) || !IsPermanent(err) {
			t.Errorf("Send(%d) = %v, want permanent ErrInvalidMessage", m.ID, err)
		}
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("server received %d messages", n)
	}
}

func TestSendServerReplies(t *testing.T) {
	srv := smtptest.NewServer(t)
	s := newTestSender(t, srv.URL())
	m := Message{ID: 1, To: "ana@example.com", Subject: "x", Text: "x"}

	srv.FailTemporarily(1)
	err := s.Send(testCtx(t), m)
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "451") {
		t.Errorf("after 451: err = %v, permanent = %v; want temporary", err, IsPermanent(err))
	}
	srv.FailPermanently(1)
	err = s.Send(testCtx(t), m)
	if err == nil || !IsPermanent(err) || !strings.Contains(err.Error(), "550") {
		t.Errorf("after 550: err = %v, permanent = %v; want permanent", err, IsPermanent(err))
	}
	if err := s.Send(testCtx(t), m); err != nil {
		t.Errorf("third Send: %v", err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("server received %d messages, want 1", n)
	}
}

func TestSendConnectionRefusedIsTemporary(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there any more
	s := newTestSender(t, "smtp://"+addr+"?starttls=none")
	err = s.Send(testCtx(t), Message{ID: 1, To: "ana@example.com", Subject: "x", Text: "x"})
	if err == nil || IsPermanent(err) {
		t.Errorf("err = %v, permanent = %v; want temporary error", err, IsPermanent(err))
	}
}

const (
	testUser     = "puente"
	testPassword = "s3cr3t pa:ss@/?%"
)

func TestSendAuth(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []smtptest.Option
	}{
		{"starttls", []smtptest.Option{smtptest.WithSTARTTLS()}},
		{"smtps", []smtptest.Option{smtptest.WithImplicitTLS()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.NewServer(t, append(tc.opts, smtptest.WithAuth(testUser, testPassword))...)
			m := Message{ID: 7, To: "ana@example.com", Subject: "x", Text: "x"}

			err := newTestSender(t, srv.URLWithUser(testUser, testPassword)).Send(testCtx(t), m)
			if err != nil {
				t.Fatalf("Send with right credentials: %v", err)
			}
			got := onlyMessage(t, srv)
			if got.AuthUser != testUser || !got.TLS {
				t.Errorf("AuthUser = %q, TLS = %v", got.AuthUser, got.TLS)
			}

			err = newTestSender(t, srv.URLWithUser(testUser, "wrong-"+testPassword)).Send(testCtx(t), m)
			if err == nil {
				t.Fatal("Send with wrong password succeeded")
			}
			if strings.Contains(err.Error(), testPassword) {
				t.Errorf("error leaks the password: %v", err)
			}
			// A wrong password is a configuration problem, not this message's.
			if IsPermanent(err) {
				t.Errorf("wrong password reported as permanent: %v", err)
			}

			err = newTestSender(t, srv.URL()).Send(testCtx(t), m)
			if err == nil {
				t.Error("Send without credentials succeeded on a server that requires AUTH")
			}
			if n := len(srv.Messages()); n != 1 {
				t.Errorf("server accepted %d messages, want 1", n)
			}
		})
	}
}

func TestSendNeverAuthenticatesInClearText(t *testing.T) {
	srv := smtptest.NewServer(t, smtptest.WithAuth(testUser, testPassword)) // no TLS at all
	s := newTestSender(t, srv.URLWithUser(testUser, testPassword))
	if err := s.Send(testCtx(t), Message{ID: 1, To: "ana@example.com", Subject: "x", Text: "x"}); err == nil {
		t.Fatal("Send succeeded over an unencrypted connection with PLAIN auth")
	}
	if n := srv.AuthAttempts(); n != 0 {
		t.Errorf("client sent credentials %d times in clear text", n)
	}
}

func TestSendTLSModes(t *testing.T) {
	m := Message{ID: 1, To: "ana@example.com", Subject: "x", Text: "x"}

	t.Run("opportunistic upgrades when offered", func(t *testing.T) {
		srv := smtptest.NewServer(t, smtptest.WithSTARTTLS())
		if err := newTestSender(t, "smtp://"+srv.Addr()+"?insecure_skip_verify=true").Send(testCtx(t), m); err != nil {
			t.Fatalf("Send: %v", err)
		}
		if !onlyMessage(t, srv).TLS {
			t.Error("message was not sent over TLS")
		}
	})
	t.Run("opportunistic falls back to plain", func(t *testing.T) {
		srv := smtptest.NewServer(t)
		if err := newTestSender(t, "smtp://"+srv.Addr()).Send(testCtx(t), m); err != nil {
			t.Fatalf("Send: %v", err)
		}
		if onlyMessage(t, srv).TLS {
			t.Error("TLS without STARTTLS?")
		}
	})
	t.Run("required fails without STARTTLS", func(t *testing.T) {
		srv := smtptest.NewServer(t)
		if err := newTestSender(t, "smtp://"+srv.Addr()+"?starttls=required").Send(testCtx(t), m); err == nil {
			t.Fatal("Send succeeded without TLS")
		}
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("server received %d messages", n)
		}
	})
	t.Run("certificate is verified by default", func(t *testing.T) {
		srv := smtptest.NewServer(t, smtptest.WithSTARTTLS())
		if err := newTestSender(t, "smtp://"+srv.Addr()+"?starttls=required").Send(testCtx(t), m); err == nil {
			t.Fatal("Send accepted a self-signed certificate")
		}
		srvTLS := smtptest.NewServer(t, smtptest.WithImplicitTLS())
		if err := newTestSender(t, "smtps://"+srvTLS.Addr()).Send(testCtx(t), m); err == nil {
			t.Fatal("smtps Send accepted a self-signed certificate")
		}
	})
	t.Run("helo", func(t *testing.T) {
		srv := smtptest.NewServer(t)
		if err := newTestSender(t, srv.URL()+"&helo=puente.example.org").Send(testCtx(t), m); err != nil {
			t.Fatalf("Send: %v", err)
		}
	})
}

// A server that accepts the connection and never answers: Send must return
// as soon as its context is cancelled, not after go-mail's own timeout.
func TestSendRespectsContextCancellation(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		for c := range accepted {
			_ = c.Close()
		}
	})

	s := newTestSender(t, fmt.Sprintf("smtp://%s?starttls=none", ln.Addr()))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Send(ctx, Message{ID: 1, To: "ana@example.com", Subject: "x", Text: "x"}) }()

	// Cancel once the client is connected and waiting for the greeting.
	var conn net.Conn
	select {
	case conn = <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("client never connected")
	}
	defer conn.Close()
	cancel()

	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || IsPermanent(err) {
			t.Errorf("Send = %v, want temporary context.Canceled", err)
		}
	case <-time.After(10 * time.Second): // go-mail's own timeout is 15s
		t.Fatal("Send did not return after its context was cancelled")
	}
}

func TestIsPermanent(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("boom"), false},
		{context.DeadlineExceeded, false},
		{fmt.Errorf("wrapped: %w", ErrInvalidMessage), true},
	} {
		if got := IsPermanent(tc.err); got != tc.want {
			t.Errorf("IsPermanent(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// A server that accepts the message but drops the connection instead of
// answering QUIT: the message was delivered, so Send must not report an
// error that would make the deliverer send it again.
func TestSendDeliveredDespiteFailedQuit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan int, 1) // number of messages accepted
	go func() {
		defer close(served)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		served <- scriptedSMTP(c)
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		for range served {
		}
	})

	s := newTestSender(t, fmt.Sprintf("smtp://%s?starttls=none", ln.Addr()))
	if err := s.Send(testCtx(t), Message{ID: 1, To: "ana@example.com", Subject: "x", Text: "x"}); err != nil {
		t.Errorf("Send = %v, want nil: the server accepted the message", err)
	}
	if n := <-served; n != 1 {
		t.Errorf("server accepted %d messages, want 1", n)
	}
}

// scriptedSMTP plays a minimal SMTP server that hangs up on QUIT without
// replying, and returns how many messages it accepted.
func scriptedSMTP(c net.Conn) int {
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	reply := func(s string) { _, _ = io.WriteString(c, s+"\r\n") }
	reply("220 scripted ESMTP")
	accepted := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return accepted
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			reply("250-scripted")
			reply("250 8BITMIME")
		case strings.HasPrefix(cmd, "DATA"):
			reply("354 go ahead")
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return accepted
				}
				if l == ".\r\n" {
					break
				}
			}
			accepted++
			reply("250 2.0.0 queued")
		case strings.HasPrefix(cmd, "QUIT"):
			return accepted // hang up without "221"
		default: // MAIL, RCPT, RSET, NOOP
			reply("250 2.0.0 ok")
		}
	}
}
