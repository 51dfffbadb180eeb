package store

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/puente-org/puente/mail"
)

// enqueue writes an email into the outbox inside the caller's transaction.
func (s *Store) enqueue(ctx context.Context, tx pgx.Tx, m Email) error {
	var discard *time.Time
	if !m.DiscardAfter.IsZero() {
		discard = &m.DiscardAfter
	}
	_, err := tx.Exec(ctx, `INSERT INTO outbox (kind, to_address, subject, text_body, html_body, sensitive,
		created_at, next_attempt_at, discard_after, ics) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9)`,
		m.Kind, m.To, m.Subject, m.Text, m.HTML, m.Sensitive, s.now(), discard, m.ICS)
	if err != nil {
		return fmt.Errorf("enqueue %s email: %w", m.Kind, err)
	}
	return nil
}

// discardExpiredMail drops pending messages that are no use any more, blanking secrets.
const discardExpiredMail = `UPDATE outbox SET status = 'discarded',
	text_body = CASE WHEN sensitive THEN '' ELSE text_body END,
	html_body = CASE WHEN sensitive THEN '' ELSE html_body END
	WHERE status = 'pending' AND discard_after < $1`

// Claim leases up to limit due messages to one sender: their next attempt is pushed past
// the lease, so a sender that dies mid-delivery leaves them to be retried, and concurrent
// senders (several instances) never take the same message.
func (s *Store) Claim(ctx context.Context, limit int, lease time.Duration) ([]mail.Message, error) {
	now := s.now()
	if _, err := s.pool.Exec(ctx, discardExpiredMail, now); err != nil {
		return nil, fmt.Errorf("discard expired mail: %w", err)
	}
	rows, err := s.pool.Query(ctx, `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $3
		WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1
		             ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
		RETURNING id, kind, to_address, subject, text_body, html_body, attempts, ics`, now, limit, now.Add(lease))
	if err != nil {
		return nil, fmt.Errorf("claim mail: %w", err)
	}
	msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (mail.Message, error) {
		var m mail.Message
		err := r.Scan(&m.ID, &m.Kind, &m.To, &m.Subject, &m.Text, &m.HTML, &m.Attempts, &m.ICS)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim mail: %w", err)
	}
	return msgs, nil
}

// MarkSent records a delivery and blanks a sensitive body.
func (s *Store) MarkSent(ctx context.Context, id int64) error {
	_, err := s.pool.Exec(ctx, `UPDATE outbox SET status = 'sent', sent_at = $2, last_error = '',
		text_body = CASE WHEN sensitive THEN '' ELSE text_body END,
		html_body = CASE WHEN sensitive THEN '' ELSE html_body END
		WHERE id = $1`, id, s.now())
	if err != nil {
		return fmt.Errorf("mark mail %d sent: %w", id, err)
	}
	return nil
}

// MarkFailed records a failed attempt: retried at retryAt, or given up when final.
func (s *Store) MarkFailed(ctx context.Context, id int64, reason string, retryAt time.Time, final bool) error {
	status := "pending"
	if final {
		status = "failed"
	}
	reason = truncateUTF8(reason, 1000)
	// A message given up on keeps no secret either.
	_, err := s.pool.Exec(ctx, `UPDATE outbox SET status = $2, last_error = $3, next_attempt_at = $4,
		text_body = CASE WHEN $5 AND sensitive THEN '' ELSE text_body END,
		html_body = CASE WHEN $5 AND sensitive THEN '' ELSE html_body END
		WHERE id = $1`, id, status, reason, retryAt, final)
	if err != nil {
		return fmt.Errorf("mark mail %d failed: %w", id, err)
	}
	return nil
}

// MailboxMessage is an outbox message as the local mailbox page shows it.
type MailboxMessage struct {
	ID        int64
	Kind      string
	To        string
	Subject   string
	Text      string
	HTML      string
	Status    string
	CreatedAt time.Time
}

// Mailbox lists the newest outbox messages (for /dev/mail when no SMTP server is set up).
func (s *Store) Mailbox(ctx context.Context, limit int) ([]MailboxMessage, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, kind, to_address, subject, text_body, html_body, status, created_at
		FROM outbox ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("read mailbox: %w", err)
	}
	msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (MailboxMessage, error) {
		var m MailboxMessage
		err := r.Scan(&m.ID, &m.Kind, &m.To, &m.Subject, &m.Text, &m.HTML, &m.Status, &m.CreatedAt)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("read mailbox: %w", err)
	}
	return msgs, nil
}

// MailboxMessageByID returns one outbox message.
func (s *Store) MailboxMessageByID(ctx context.Context, id int64) (MailboxMessage, error) {
	var m MailboxMessage
	err := s.pool.QueryRow(ctx, `SELECT id, kind, to_address, subject, text_body, html_body, status, created_at
		FROM outbox WHERE id = $1`, id).Scan(&m.ID, &m.Kind, &m.To, &m.Subject, &m.Text, &m.HTML, &m.Status, &m.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return m, notFound("message")
	}
	if err != nil {
		return m, fmt.Errorf("read message: %w", err)
	}
	return m, nil
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
