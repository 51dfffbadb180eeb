package mail

import (
	"context"
	"log/slog"
)

// LocalSender is the delivery of a development setup with no SMTP server: the email is
// logged (with its body, so that a sign-in link can be copied from the terminal) and stays
// in the outbox, where the local mailbox (/dev/mail) shows it. Use it with
// DelivererOptions.Local.
type LocalSender struct{ Log *slog.Logger }

// Send logs m.
func (s LocalSender) Send(ctx context.Context, m Message) error {
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	log.InfoContext(ctx, "email kept in the outbox (no SMTP_URL set); read it at /dev/mail",
		"to", m.To, "subject", m.Subject, "body", m.Text)
	return nil
}
