package mail

import (
	"context"
	"time"

	"github.com/puente-org/puente/domain"
)

// Message is one email as stored in the outbox.
type Message struct {
	ID      int64
	Kind    string // e.g. "sign_in", or a notice's kind
	To      string
	Subject string
	Text    string // plain-text body (always present once rendered)
	HTML    string // optional HTML alternative
	ICS     string // optional iCalendar attachment (invite.ics)
	// ReplyTo, when set, is where replies go (a message relayed for another member).
	ReplyTo string
	// Headers are extra header fields, set by the renderer: a list email's List-Id,
	// List-Unsubscribe and List-Unsubscribe-Post. Kept in the outbox once sent.
	Headers map[string]string
	// Notice is set for a typed row: the Renderer makes the email from it when it is
	// delivered. Nil for mail rendered when it was written (sign-in links).
	Notice *domain.Notice
	// Key is the outbox row's random key, written with the row: the Message-ID is made
	// from the row's id and it, so an email sent twice (the SMTP server accepted it, then
	// the process died before the outbox marked it sent) carries the same Message-ID both
	// times and is recognisably one message. Empty: a random Message-ID.
	Key string
	// Sensitive: the body holds a secret link; it is blanked once delivered.
	Sensitive bool
	Attempts  int // delivery attempts so far, including the current one once claimed
}

// Sender transmits one message.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Renderer makes the email of a typed row (m.Notice set): recipient, subject, bodies and
// calendar entry, from the data as it is now (implemented by package notices).
type Renderer interface {
	Render(ctx context.Context, m Message) (Message, error)
}

// Outbox is what the deliverer needs from storage (implemented in package
// store over PostgreSQL).
type Outbox interface {
	// Claim leases up to limit due pending messages (next_attempt_at <= now)
	// for lease, incrementing attempts, and returns them. Expired ones
	// (discard_after passed) are not returned.
	Claim(ctx context.Context, limit int, lease time.Duration) ([]Message, error)
	// MarkSent records a delivery and what was sent (the rendered message); a
	// sensitive body (m.Sensitive) is blanked.
	MarkSent(ctx context.Context, m Message) error
	// MarkFailed records the error; final=true gives up (status failed),
	// otherwise retry at retryAt.
	MarkFailed(ctx context.Context, id int64, reason string, retryAt time.Time, final bool) error
	// MarkSuperseded sets aside a notice that is out of date (ErrSuperseded):
	// not sent, not failed, its bodies and secrets blanked.
	MarkSuperseded(ctx context.Context, id int64, reason string) error
	// DropBodies blanks the bodies, calendar entries and payload secrets of
	// messages that were sent or given up on before the given time, and says
	// how many.
	DropBodies(ctx context.Context, before time.Time) (int, error)
}
