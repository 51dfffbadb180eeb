// Package smtptest runs a real SMTP server on 127.0.0.1 for tests. It speaks
// the protocol through github.com/emersion/go-smtp, records every accepted
// message and can be told to reject deliveries or to require authentication.
package smtptest

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Option configures a Server.
type Option func(*config)

type config struct {
	user, password string
	startTLS       bool
	implicitTLS    bool
}

// WithAuth requires AUTH PLAIN with exactly these credentials before MAIL FROM.
// AUTH is offered on unencrypted connections too, so tests can check that a
// client refuses to send a password in clear text.
func WithAuth(user, password string) Option {
	return func(c *config) { c.user, c.password = user, password }
}

// WithSTARTTLS offers STARTTLS with a throw-away self-signed certificate.
func WithSTARTTLS() Option { return func(c *config) { c.startTLS = true } }

// WithImplicitTLS makes the server speak TLS from the first byte (smtps).
func WithImplicitTLS() Option { return func(c *config) { c.implicitTLS = true } }

// Server is a running test SMTP server. All methods are safe for concurrent use.
type Server struct {
	cfg  config
	addr string

	mu           sync.Mutex
	messages     []Received
	failures     []*smtp.SMTPError // next RCPT replies, consumed in order
	authAttempts int
	changed      chan struct{} // closed and replaced whenever messages grows
	holdAfter    int           // messages still to accept before holding one; -1: none
	held         chan struct{} // closed once a message is held
	closing      chan struct{} // closed when the server stops: a held message is let go
}

// NewServer starts a server listening on 127.0.0.1 on a free port. It is
// stopped by t.Cleanup.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{changed: make(chan struct{}), holdAfter: -1, closing: make(chan struct{})}
	for _, o := range opts {
		o(&s.cfg)
	}

	srv := smtp.NewServer(backend{s})
	srv.Domain = "smtptest.localhost"
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 50
	// Lets WithAuth advertise AUTH without TLS (see WithAuth).
	srv.AllowInsecureAuth = true
	// go-smtp logs dropped connections; writing to t.Log from its goroutines
	// could happen after the test has finished, which panics.
	srv.ErrorLog = log.New(io.Discard, "", 0)

	var ln net.Listener
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	if s.cfg.startTLS || s.cfg.implicitTLS {
		cert, err := selfSignedCert()
		if err != nil {
			_ = ln.Close()
			t.Fatalf("smtptest: %v", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if s.cfg.implicitTLS {
			ln = tls.NewListener(ln, srv.TLSConfig)
		}
	}
	s.addr = ln.Addr().String()

	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		close(s.closing)
		_ = srv.Close() // closes every open connection
		// Also close the listener here: if Serve has not registered it yet,
		// srv.Close cannot, and Serve would block in Accept forever.
		_ = ln.Close()
		<-served
	})
	return s
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.addr }

// URL is an SMTP_URL for this server without credentials: with
// "?starttls=none" for a plain server, or with TLS and
// "insecure_skip_verify=true" when WithSTARTTLS or WithImplicitTLS was given.
func (s *Server) URL() string {
	return s.url(nil)
}

// URLWithUser is URL with user and password (URL-encoded) added.
func (s *Server) URLWithUser(user, password string) string {
	return s.url(url.UserPassword(user, password))
}

func (s *Server) url(user *url.Userinfo) string {
	u := url.URL{Scheme: "smtp", Host: s.addr, User: user}
	q := url.Values{}
	switch {
	case s.cfg.implicitTLS:
		u.Scheme = "smtps"
		q.Set("insecure_skip_verify", "true")
	case s.cfg.startTLS:
		q.Set("starttls", "required")
		q.Set("insecure_skip_verify", "true")
	default:
		q.Set("starttls", "none")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Messages returns a copy of the messages accepted so far, oldest first.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Received, len(s.messages))
	copy(out, s.messages)
	return out
}

// WaitForMessage returns the first accepted message (already received or
// arriving later) for which match returns true; a nil match accepts any
// message. It fails only when ctx ends. match runs without locks held, so it
// may call other Server methods.
func (s *Server) WaitForMessage(ctx context.Context, match func(Received) bool) (Received, error) {
	var found Received
	err := s.waitFor(ctx, func(msgs []Received) bool {
		for _, m := range msgs {
			if match == nil || match(m) {
				found = m
				return true
			}
		}
		return false
	})
	return found, err
}

// WaitForMessages waits until at least n messages have been accepted and
// returns all of them.
func (s *Server) WaitForMessages(ctx context.Context, n int) ([]Received, error) {
	var all []Received
	err := s.waitFor(ctx, func(msgs []Received) bool {
		all = msgs
		return len(msgs) >= n
	})
	return all, err
}

// waitFor calls done with a snapshot of the messages each time they change
// until it returns true or ctx ends.
func (s *Server) waitFor(ctx context.Context, done func([]Received) bool) error {
	for {
		s.mu.Lock()
		msgs := make([]Received, len(s.messages))
		copy(msgs, s.messages)
		changed := s.changed
		s.mu.Unlock()

		if done(msgs) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("smtptest: waiting for messages (%d received): %w", len(msgs), ctx.Err())
		case <-changed:
		}
	}
}

// FailTemporarily makes the next n deliveries fail with
// "451 4.3.0" at RCPT TO, like a greylisting or overloaded server.
func (s *Server) FailTemporarily(n int) {
	s.addFailures(n, &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure, try again later"})
}

// FailPermanently makes the next n deliveries fail with "550 5.1.1" at
// RCPT TO, like a server that does not know the recipient.
func (s *Server) FailPermanently(n int) {
	s.addFailures(n, &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"})
}

func (s *Server) addFailures(n int, e *smtp.SMTPError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, e)
	}
}

// HoldAfter makes the server accept n more messages and then hold the next one at its
// end of DATA: the message has been received but is neither answered nor recorded, and
// the client waits for the reply until the server stops (the message is then refused).
// Later messages are accepted again. The returned channel is closed once a message is
// held: a test can then kill a client that is in the middle of sending, at a moment when
// the messages before were accepted and this one is not.
func (s *Server) HoldAfter(n int) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holdAfter, s.held = n, make(chan struct{})
	return s.held
}

// hold reports whether the message just received is the one to hold.
func (s *Server) hold() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.holdAfter < 0:
		return false
	case s.holdAfter > 0:
		s.holdAfter--
		return false
	}
	s.holdAfter = -1
	close(s.held)
	return true
}

// AuthAttempts counts AUTH exchanges in which the client sent credentials,
// successful or not.
func (s *Server) AuthAttempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authAttempts
}

// Port is the TCP port the server listens on.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return n
}

func (s *Server) nextFailure() *smtp.SMTPError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) == 0 {
		return nil
	}
	e := s.failures[0]
	s.failures = s.failures[1:]
	return e
}

func (s *Server) countAuth() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authAttempts++
}

func (s *Server) record(r Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, r)
	close(s.changed)
	s.changed = make(chan struct{})
}
