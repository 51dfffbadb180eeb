package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"maps"
	"net"
	netmail "net/mail"
	"slices"
	"strconv"
	"strings"

	gomail "github.com/wneessen/go-mail"
)

// SMTPSender sends through an SMTP server given as a URL (see the package
// documentation for the SMTP_URL format). It holds only immutable
// configuration, so one SMTPSender may be used by many goroutines at once.
type SMTPSender struct {
	cfg        smtpConfig
	from       *netmail.Address
	fromDomain string // right-hand side of Message-ID
}

// NewSMTPSender validates rawURL (the SMTP_URL setting) and from (a full
// address such as "Puente <no-reply@example.org>"). It does not connect.
func NewSMTPSender(rawURL, from string) (*SMTPSender, error) {
	cfg, err := parseSMTPURL(rawURL)
	if err != nil {
		return nil, err
	}
	addr, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mail from address %q: %w", from, err)
	}
	_, domain, ok := strings.Cut(addr.Address, "@")
	if !ok || domain == "" {
		return nil, fmt.Errorf("mail from address %q: missing domain", from)
	}
	return &SMTPSender{cfg: cfg, from: addr, fromDomain: domain}, nil
}

// String describes the server without the password, for startup logs.
func (s *SMTPSender) String() string { return s.cfg.redacted }

// Send delivers m in its own SMTP session. A new connection per message keeps
// the sender stateless; Puente sends few emails, so connection reuse is not
// worth the complexity of keeping sessions healthy.
//
// Cancelling ctx aborts the session at any point, not only while dialing.
func (s *SMTPSender) Send(ctx context.Context, m Message) error {
	msg, err := s.build(m)
	if err != nil {
		return fmt.Errorf("building email %d: %w", m.ID, err)
	}

	conn := &abortableConn{}
	client, err := gomail.NewClient(s.cfg.host, s.clientOptions(conn)...)
	if err != nil {
		// Options are derived from an already validated URL; this is a bug or a
		// host without a name, not a delivery problem.
		return fmt.Errorf("configuring SMTP client: %w", err)
	}

	// go-mail only watches ctx while dialing. Breaking the connection when ctx
	// ends makes every later read or write fail at once instead of waiting for
	// go-mail's per-command timeout.
	stop := context.AfterFunc(ctx, conn.abort)
	defer stop()
	// go-mail does not close the connection when EHLO, STARTTLS or AUTH fail.
	defer conn.close()

	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		if msg.IsDelivered() {
			// The server accepted the message (250 after DATA); only the RSET or
			// QUIT that followed failed. Reporting an error would send it again.
			return nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("sending email %d via %s: %w (%w)", m.ID, s.cfg.redacted, ctxErr, err)
		}
		return fmt.Errorf("sending email %d via %s: %w", m.ID, s.cfg.redacted, err)
	}
	return nil
}

// clientOptions translates the SMTP_URL configuration into go-mail options.
func (s *SMTPSender) clientOptions(conn *abortableConn) []gomail.Option {
	cfg := s.cfg
	tlsConfig := &tls.Config{
		ServerName:         cfg.host,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: cfg.insecure, //nolint:gosec // opt-in via insecure_skip_verify, documented as test-only
	}
	addr := net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port))
	opts := []gomail.Option{
		gomail.WithPort(cfg.port),
		gomail.WithTLSConfig(tlsConfig),
		gomail.WithDialContextFunc(conn.dialer(addr, cfg.implicitTLS, tlsConfig)),
	}
	switch {
	case cfg.implicitTLS:
		// Not gomail.WithSSL: with a custom dialer go-mail would then consider
		// the session unencrypted and refuse PLAIN/LOGIN. With the TLS
		// connection coming from our dialer and an opportunistic policy,
		// go-mail inspects the live connection and sees it is encrypted (a
		// server on implicit TLS does not offer STARTTLS again).
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case cfg.startTLS == startTLSRequired:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case cfg.startTLS == startTLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if cfg.helo != "" {
		opts = append(opts, gomail.WithHELO(cfg.helo))
	}
	if cfg.hasAuth {
		opts = append(opts,
			gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(cfg.user),
			gomail.WithPassword(cfg.password),
		)
	}
	return opts
}

// build turns m into a go-mail message. Errors here are about the stored
// message and therefore permanent.
func (s *SMTPSender) build(m Message) (*gomail.Msg, error) {
	if m.Text == "" {
		return nil, fmt.Errorf("%w: empty text body", ErrInvalidMessage)
	}
	// No User-Agent: it would only advertise the library version.
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(s.from)
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("%w: recipient: %w", ErrInvalidMessage, err)
	}
	msg.Subject(oneLine(m.Subject))
	msg.SetDate()
	msg.SetMessageIDWithValue(s.messageID(m))
	// RFC 3834: tells auto-responders (vacation replies) not to answer.
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	if m.ReplyTo != "" {
		if err := msg.ReplyTo(m.ReplyTo); err != nil {
			return nil, fmt.Errorf("%w: reply-to: %w", ErrInvalidMessage, err)
		}
	}
	// A list email's List-Id and List-Unsubscribe(-Post), in a fixed order.
	for _, k := range slices.Sorted(maps.Keys(m.Headers)) {
		msg.SetGenHeader(gomail.Header(oneLine(k)), oneLine(m.Headers[k]))
	}
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	if m.ICS != "" {
		// A calendar entry for the session, as a file calendar programs open.
		if err := msg.AttachReader("invite.ics", strings.NewReader(m.ICS),
			gomail.WithFileContentType("text/calendar; charset=utf-8; method=PUBLISH")); err != nil {
			return nil, fmt.Errorf("%w: calendar attachment: %w", ErrInvalidMessage, err)
		}
	}
	return msg, nil
}

// messageID is the message's Message-ID. The outbox id lets an operator match a bounce to
// its row; the row's random key keeps it unique across databases and the same every time
// the row is sent (a resend after a crash is recognisably the same message). A message
// with no key gets a random one.
func (s *SMTPSender) messageID(m Message) string {
	key := m.Key
	if key == "" {
		key = strings.ToLower(rand.Text())
	}
	return fmt.Sprintf("puente.%d.%s@%s", m.ID, key, s.fromDomain)
}

// oneLine folds line breaks into spaces: go-mail writes an ASCII subject
// verbatim, so a stray CR/LF would otherwise inject header lines.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' }), " ")
}
