package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/puente-org/puente/domain"
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

// enqueueNotice writes a typed row into the outbox inside the caller's transaction: one
// small insert. The email is rendered when it is delivered (package notices). The address
// is today's, for the mailbox page; delivery uses the one current then.
func (s *Store) enqueueNotice(ctx context.Context, tx pgx.Tx, n domain.Notice) error {
	sql, args, err := s.noticeInsert(n)
	if err != nil {
		return err
	}
	if _, err = tx.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("enqueue %s notice: %w", n.Kind, err)
	}
	return nil
}

// insertNotice is the head of the insert of a typed outbox row (noticeInsert, and the
// notice of registerNewSQL).
const insertNotice = `INSERT INTO outbox (kind, notice_kind, to_address, subject, text_body, sensitive, created_at,
		next_attempt_at, person_id, registration_id, occurrence_id, event_id, payload)`

// noticeInsert is the statement that writes n into the outbox (to batch it with others).
func (s *Store) noticeInsert(n domain.Notice) (string, []any, error) {
	if !n.Kind.Valid() {
		return "", nil, fmt.Errorf("enqueue notice: unknown kind %q", n.Kind)
	}
	payload, err := json.Marshal(n.Payload)
	if err != nil {
		return "", nil, fmt.Errorf("enqueue %s notice: %w", n.Kind, err)
	}
	if n.List != "" && !n.List.Valid() {
		return "", nil, fmt.Errorf("enqueue %s notice: unknown list %q", n.Kind, n.List)
	}
	if n.List == "" {
		return insertNotice + `
		VALUES ($1, $1, coalesce((SELECT email FROM people WHERE id = $3), ''), '', '', $2, $4, $4, $3, $5, $6,
		        coalesce($7, (SELECT event_id FROM occurrences WHERE id = $6)), $8)`,
			[]any{string(n.Kind), n.Payload.SignInURL != "", n.PersonID, s.now(), nullID(n.RegistrationID), nullID(n.OccurrenceID),
				nullID(n.EventID), payload}, nil
	}
	// A list notice is not written for a person who left the list, nor for an address
	// that bounced or complained.
	return `INSERT INTO outbox (kind, notice_kind, to_address, subject, text_body, sensitive, created_at,
		next_attempt_at, person_id, registration_id, occurrence_id, event_id, payload, list_id)
		SELECT $1, $1, p.email, '', '', $2, $4, $4, $3, $5, $6,
		       coalesce($7, (SELECT event_id FROM occurrences WHERE id = $6)), $8, $9
		FROM people p WHERE p.id = $3
		  AND NOT EXISTS (SELECT 1 FROM list_optouts lo WHERE lo.person_id = p.id AND lo.list_id = $9)
		  AND NOT EXISTS (SELECT 1 FROM mail_suppressions ms WHERE ms.email = lower(p.email))`,
		[]any{string(n.Kind), n.Payload.SignInURL != "", n.PersonID, s.now(), nullID(n.RegistrationID), nullID(n.OccurrenceID),
			nullID(n.EventID), payload, string(n.List)}, nil
}

func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// removedPayload freezes what a notice about a session that is about to be deleted needs:
// the session itself.
func removedPayload(ctx context.Context, tx pgx.Tx, occID int64) (domain.NoticePayload, error) {
	o, _, err := occurrenceInTx(ctx, tx, occID)
	if err != nil {
		return domain.NoticePayload{}, err
	}
	return domain.NoticePayload{Occurrence: &o}, nil
}

// NoticeFacts reads what a typed outbox row is about, as it is now (for the renderer).
// A session that no longer exists leaves Occurrence zero (and, for a removed session, the
// registration it took with it, Place); a person or registration that no longer exists is
// otherwise a not-found error.
func (s *Store) NoticeFacts(ctx context.Context, n domain.Notice) (domain.NoticeFacts, error) {
	var f domain.NoticeFacts
	var err error
	switch {
	case n.PersonID != 0:
		if f.Person, err = s.PersonByID(ctx, n.PersonID); err != nil {
			return f, err
		}
	case n.Payload.SpeakerEmail != "":
		// A speaker added by address: their account if they have one by now, else the
		// bare address (the default language and the event's zone).
		f.Person, err = s.PersonByEmail(ctx, n.Payload.SpeakerEmail)
		if domain.ErrorCode(err) == domain.CodeNotFound {
			f.Person, err = domain.Person{Email: n.Payload.SpeakerEmail}, nil
		}
		if err != nil {
			return f, err
		}
	default:
		return f, notFound("recipient")
	}
	if n.OccurrenceID != 0 {
		l, err := s.OccurrenceByID(ctx, n.OccurrenceID)
		switch {
		case err == nil:
			f.Occurrence, f.Event = l.Occurrence, l.Event
		case errors.Is(err, pgx.ErrNoRows):
		default:
			return f, err
		}
	}
	if f.Event.ID == 0 && n.EventID != 0 {
		if f.Event, err = s.EventByID(ctx, n.EventID); err != nil {
			return f, err
		}
	}
	if n.RegistrationID != 0 {
		r, err := s.RegistrationByID(ctx, n.RegistrationID)
		switch {
		case err == nil:
			f.Place = placeOf(r)
		case errors.Is(err, pgx.ErrNoRows) && n.Kind == domain.NoticeRemoved:
			// The removed session's registrations went with it; the notice says so.
		default:
			return f, err
		}
	}
	if n.Kind == domain.NoticeContact {
		if f.Sender, err = s.PersonByID(ctx, n.Payload.SenderID); err != nil {
			return f, err
		}
	}
	if n.Kind == domain.NoticeFollowUpdates {
		if f.News, err = s.followNewsFacts(ctx, n.Payload.News); err != nil {
			return f, err
		}
	}
	if n.Kind == domain.NoticeWeeklyDigest && n.Payload.Digest != nil {
		if f.Talks, err = s.DigestTalks(ctx, n.PersonID, *n.Payload.Digest); err != nil {
			return f, err
		}
	}
	if n.Kind == domain.NoticeEventRegistration {
		regs, err := s.Registrations(ctx, RegistrationFilter{EventID: n.EventID, PersonID: n.PersonID})
		if err != nil {
			return f, err
		}
		places := map[int64]domain.NoticePlace{}
		var ids []int64
		for _, r := range regs {
			if r.Status.Active() {
				places[r.OccurrenceID] = placeOf(r)
				ids = append(ids, r.OccurrenceID)
			}
		}
		if len(ids) > 0 {
			list, err := s.Occurrences(ctx, OccurrenceFilter{IDs: ids, From: s.now()})
			if err != nil {
				return f, err
			}
			for _, l := range list {
				f.Sessions = append(f.Sessions, domain.NoticeSession{Place: places[l.Occurrence.ID], Occurrence: l.Occurrence})
			}
		}
	}
	return f, nil
}

func placeOf(r Registration) domain.NoticePlace {
	return domain.NoticePlace{ID: r.ID, Status: r.Status, Position: r.Position, LinkNonce: r.LinkNonce}
}

// blankBodies is the SET clause that drops what a finished row must not keep: the bodies
// (personal links), the calendar entry, and the payload's secrets.
const blankBodies = `text_body = '', html_body = '', ics = '', headers = '{}', payload = payload - 'sign_in_url'`

// discardExpiredMail drops pending messages that are no use any more, blanking secrets.
const discardExpiredMail = `UPDATE outbox SET status = 'discarded',
	text_body = CASE WHEN sensitive THEN '' ELSE text_body END,
	html_body = CASE WHEN sensitive THEN '' ELSE html_body END,
	payload = payload - 'sign_in_url'
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
		RETURNING id, kind, to_address, subject, text_body, html_body, attempts, ics, sensitive,
		          notice_kind, coalesce(person_id, 0), coalesce(registration_id, 0), coalesce(occurrence_id, 0),
		          coalesce(event_id, 0), payload, list_id, message_key::text`, now, limit, now.Add(lease))
	if err != nil {
		return nil, fmt.Errorf("claim mail: %w", err)
	}
	msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (mail.Message, error) {
		var m mail.Message
		var n domain.Notice
		var kind string
		var payload []byte
		var list string
		err := r.Scan(&m.ID, &m.Kind, &m.To, &m.Subject, &m.Text, &m.HTML, &m.Attempts, &m.ICS, &m.Sensitive,
			&kind, &n.PersonID, &n.RegistrationID, &n.OccurrenceID, &n.EventID, &payload, &list, &m.Key)
		if err != nil || kind == "" {
			return m, err
		}
		n.Kind = domain.NoticeKind(kind)
		n.List = domain.MailList(list)
		if err := json.Unmarshal(payload, &n.Payload); err != nil {
			return m, fmt.Errorf("message %d: payload: %w", m.ID, err)
		}
		m.Notice = &n
		return m, nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim mail: %w", err)
	}
	return msgs, nil
}

// MarkSent records a delivery and what was sent (the local mailbox shows it); a sensitive
// body is blanked, and so are the payload's secrets.
func (s *Store) MarkSent(ctx context.Context, m mail.Message) error {
	blank := func(v string) string {
		if m.Sensitive {
			return ""
		}
		return v
	}
	headers := map[string]string{}
	maps.Copy(headers, m.Headers)
	if m.ReplyTo != "" {
		headers["Reply-To"] = m.ReplyTo
	}
	if m.Sensitive {
		clear(headers) // an unsubscribe link is personal too
	}
	_, err := s.pool.Exec(ctx, `UPDATE outbox SET status = 'sent', sent_at = $2, last_error = '',
		to_address = $3, subject = $4, text_body = $5, html_body = $6, ics = $7,
		payload = CASE WHEN $8 THEN payload - 'sign_in_url' ELSE payload END, headers = $9
		WHERE id = $1`, m.ID, s.now(), m.To, m.Subject, blank(m.Text), blank(m.HTML), blank(m.ICS), m.Sensitive, headers)
	if err != nil {
		return fmt.Errorf("mark mail %d sent: %w", m.ID, err)
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
		html_body = CASE WHEN $5 AND sensitive THEN '' ELSE html_body END,
		payload = CASE WHEN $5 THEN payload - 'sign_in_url' ELSE payload END
		WHERE id = $1`, id, status, reason, retryAt, final)
	if err != nil {
		return fmt.Errorf("mark mail %d failed: %w", id, err)
	}
	return nil
}

// MarkSuperseded sets a notice aside that a later change made untrue (mail.ErrSuperseded):
// status discarded, nothing kept that it would have said.
func (s *Store) MarkSuperseded(ctx context.Context, id int64, reason string) error {
	_, err := s.pool.Exec(ctx, `UPDATE outbox SET status = 'discarded', last_error = $2, text_body = '', html_body = '',
		ics = '', payload = payload - 'sign_in_url' WHERE id = $1`, id, truncateUTF8(reason, 1000))
	if err != nil {
		return fmt.Errorf("mark mail %d superseded: %w", id, err)
	}
	return nil
}

// DropBodies blanks the bodies, calendar entries and payload secrets of messages sent,
// given up on or discarded before the given time (the retention period), so that their
// personal links (join, cancel) are not kept for ever. It says how many.
func (s *Store) DropBodies(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE outbox SET `+blankBodies+`, bodies_dropped_at = $2
		WHERE status <> 'pending' AND bodies_dropped_at IS NULL AND coalesce(sent_at, next_attempt_at) < $1`, before, s.now())
	if err != nil {
		return 0, fmt.Errorf("blank old mail bodies: %w", err)
	}
	return int(tag.RowsAffected()), nil
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
	// Headers sent besides From, To, Subject and Date (a list email's List-Id and
	// List-Unsubscribe, a relayed message's Reply-To); known once it is sent.
	Headers map[string]string
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
	err := s.pool.QueryRow(ctx, `SELECT id, kind, to_address, subject, text_body, html_body, status, created_at, headers
		FROM outbox WHERE id = $1`, id).Scan(&m.ID, &m.Kind, &m.To, &m.Subject, &m.Text, &m.HTML, &m.Status, &m.CreatedAt, &m.Headers)
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
