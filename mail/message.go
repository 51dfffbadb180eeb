package mail

import (
	"context"
	"time"
)

// Message is one email as stored in the outbox.
type Message struct {
	ID       int64
	Kind     string // e.g. "sign_in"
	To       string
	Subject  string
	Text     string // plain-text body (always present)
	HTML     string // optional HTML alternative
	ICS      string // optional iCalendar attachment (invite.ics)
	Attempts int    // delivery attempts so far, including the current one once claimed
}

// Sender transmits one message.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Outbox is what the deliverer needs from storage (implemented in package
// store over PostgreSQL).
type Outbox interface {
	// Claim leases up to limit due pending messages (next_attempt_at <= now)
	// for lease, incrementing attempts, and returns them. Expired ones
	// (discard_after passed) are not returned.
	Claim(ctx context.Context, limit int, lease time.Duration) ([]Message, error)
	MarkSent(ctx context.Context, id int64) error
	// MarkFailed records the error; final=true gives up (status failed),
	// otherwise retry at retryAt.
	MarkFailed(ctx context.Context, id int64, reason string, retryAt time.Time, final bool) error
}
