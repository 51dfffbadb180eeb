package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/puente-org/puente/domain"
)

const announcementColumns = `a.id, a.event_id, coalesce(a.occurrence_id, 0), coalesce(a.author_id, 0), a.subject, a.body,
	a.audience, a.status, a.send_at, a.sent_at, a.recipients, a.created_at, a.updated_at`

func scanAnnouncement(row pgx.Row) (domain.Announcement, error) {
	var a domain.Announcement
	var audience string
	err := row.Scan(&a.ID, &a.EventID, &a.OccurrenceID, &a.AuthorID, &a.Subject, &a.Body, &audience, &a.Status,
		&a.SendAt, &a.SentAt, &a.Recipients, &a.CreatedAt, &a.UpdatedAt)
	a.Audience = domain.Audience(audience)
	return a, err
}

func announcementInTx(ctx context.Context, q querier, id int64, lock bool) (domain.Announcement, error) {
	sql := `SELECT ` + announcementColumns + ` FROM announcements a WHERE a.id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	a, err := scanAnnouncement(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return a, notFound("announcement")
	}
	if err != nil {
		return a, fmt.Errorf("read announcement %d: %w", id, err)
	}
	return a, nil
}

// AnnouncementByID returns one announcement, whatever its status.
func (s *Store) AnnouncementByID(ctx context.Context, id int64) (domain.Announcement, error) {
	return announcementInTx(ctx, s.pool, id, false)
}

// AnnouncementFilter selects an event's announcements.
type AnnouncementFilter struct {
	EventID int64
	Status  string // "" for every status
	Limit   int
}

// Announcements lists an event's announcements: the sent ones latest first, then (for
// another status) by when they go.
func (s *Store) Announcements(ctx context.Context, f AnnouncementFilter) ([]domain.Announcement, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	rows, err := s.pool.Query(ctx, `SELECT `+announcementColumns+` FROM announcements a
		WHERE a.event_id = $1 AND ($2 = '' OR a.status = $2)
		ORDER BY a.sent_at DESC NULLS LAST, a.send_at, a.id DESC LIMIT $3`, f.EventID, f.Status, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("announcements: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.Announcement, error) { return scanAnnouncement(r) })
	if err != nil {
		return nil, fmt.Errorf("announcements: %w", err)
	}
	return list, nil
}

// CreateAnnouncement saves an announcement (already checked). Without a sending time it is
// sent at once: its recipients are put in the outbox and it is marked sent in the same
// transaction as it is saved.
func (s *Store) CreateAnnouncement(ctx context.Context, a domain.Announcement) (domain.Announcement, error) {
	var out domain.Announcement
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		sendAt := now
		if a.SendAt != nil {
			sendAt = *a.SendAt
		}
		// The same announcement twice in a few minutes is a double click or a client's
		// retry, not a second message: refused, so nobody receives it twice. The lock makes
		// two such requests at once wait for each other.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('puente.announcements:' || $1::bigint))`, a.EventID); err != nil {
			return fmt.Errorf("save announcement: %w", err)
		}
		var twice bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM announcements WHERE event_id = $1
			AND occurrence_id IS NOT DISTINCT FROM $2 AND subject = $3 AND body = $4 AND audience = $5
			AND status <> 'cancelled' AND created_at > $6)`, a.EventID, nullID(a.OccurrenceID), a.Subject, a.Body,
			string(a.Audience), now.Add(-domain.AnnouncementRepeatWindow)).Scan(&twice); err != nil {
			return fmt.Errorf("save announcement: %w", err)
		}
		if twice {
			return &domain.Error{Code: domain.CodeConflict, ID: "err.announce.twice", Field: "subject"}
		}
		var id int64
		err := tx.QueryRow(ctx, `INSERT INTO announcements (event_id, occurrence_id, author_id, subject, body, audience,
			status, send_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'scheduled', $7, $8, $8) RETURNING id`,
			a.EventID, nullID(a.OccurrenceID), nullID(a.AuthorID), a.Subject, a.Body, string(a.Audience), sendAt, now).Scan(&id)
		if err != nil {
			return fmt.Errorf("save announcement: %w", err)
		}
		if a.SendAt == nil {
			if _, err := s.sendAnnouncementInTx(ctx, tx, id); err != nil {
				return err
			}
		}
		out, err = announcementInTx(ctx, tx, id, false)
		return err
	})
	return out, err
}

// errNotScheduled refuses to change an announcement that has gone or was cancelled.
func errNotScheduled(a domain.Announcement) error {
	id := "err.announce.already_sent"
	if a.Status == domain.AnnouncementCancelled {
		id = "err.announce.already_cancelled"
	}
	return &domain.Error{Code: domain.CodeConflict, ID: id, Field: "status"}
}

// UpdateAnnouncement changes a scheduled announcement: mutate sees it locked (so it cannot
// go meanwhile) and may refuse; one that has gone or was cancelled is a conflict.
func (s *Store) UpdateAnnouncement(ctx context.Context, id int64, mutate func(*domain.Announcement) error) (domain.Announcement, error) {
	var out domain.Announcement
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		a, err := announcementInTx(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if a.Status != domain.AnnouncementScheduled {
			return errNotScheduled(a)
		}
		if err := mutate(&a); err != nil {
			return err
		}
		if a.Status != domain.AnnouncementScheduled && a.Status != domain.AnnouncementCancelled {
			return fmt.Errorf("update announcement %d: status %q", id, a.Status)
		}
		if _, err := tx.Exec(ctx, `UPDATE announcements SET subject = $2, body = $3, audience = $4, occurrence_id = $5,
			send_at = $6, status = $7, updated_at = $8 WHERE id = $1`, id, a.Subject, a.Body, string(a.Audience),
			nullID(a.OccurrenceID), a.SendAt, a.Status, s.now()); err != nil {
			return fmt.Errorf("update announcement %d: %w", id, err)
		}
		out, err = announcementInTx(ctx, tx, id, false)
		return err
	})
	return out, err
}

// SendDueAnnouncements sends every scheduled announcement whose time has come, each in its
// own transaction, and says how many went. Several instances may run it at once: an
// announcement being sent by one is skipped by the others, and one sent is never sent again.
func (s *Store) SendDueAnnouncements(ctx context.Context) (int, error) {
	sent := 0
	for ctx.Err() == nil {
		found := false
		err := s.inTx(ctx, func(tx pgx.Tx) error {
			var id int64
			err := tx.QueryRow(ctx, `SELECT id FROM announcements WHERE status = 'scheduled' AND send_at <= $1
				ORDER BY send_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`, s.now()).Scan(&id)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("due announcements: %w", err)
			}
			found = true
			_, err = s.sendAnnouncementInTx(ctx, tx, id)
			return err
		})
		if err != nil {
			return sent, err
		}
		if !found {
			break
		}
		sent++
	}
	return sent, ctx.Err()
}

// activeStatuses are the registrations that hold or wait for a place.
const activeStatuses = `('confirmed', 'held', 'waitlisted', 'pending')`

// sendAnnouncementInTx sends a scheduled announcement (locked here): one outbox row for each
// person of its audience, however many of its audiences they are in, and the announcement
// marked sent, all in the caller's transaction. A crash before the commit sends nothing; after
// it, the outbox delivers each row once (its lease and retries). It returns how many rows.
func (s *Store) sendAnnouncementInTx(ctx context.Context, tx pgx.Tx, id int64) (int, error) {
	a, err := announcementInTx(ctx, tx, id, true)
	if err != nil {
		return 0, err
	}
	if a.Status != domain.AnnouncementScheduled {
		return 0, errNotScheduled(a)
	}
	rows, err := tx.Query(ctx, `SELECT f.person_id FROM follows f WHERE $2 AND f.event_id = $1
		UNION
		SELECT r.person_id FROM registrations r JOIN occurrences o ON o.id = r.occurrence_id
		 WHERE $3 AND o.event_id = $1 AND r.status IN `+activeStatuses+` AND ($4::bigint IS NULL OR r.occurrence_id = $4)
		   AND r.person_id IS NOT NULL -- a deleted account's place counts, but nobody is emailed
		UNION
		SELECT er.person_id FROM event_registrations er
		 WHERE $3 AND $4::bigint IS NULL AND er.event_id = $1 AND er.status = 'active' AND er.person_id IS NOT NULL
		ORDER BY 1`, a.EventID, a.Audience.Followers(), a.Audience.Registrants(), nullID(a.OccurrenceID))
	if err != nil {
		return 0, fmt.Errorf("announcement audience: %w", err)
	}
	people, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("announcement audience: %w", err)
	}
	payload := domain.NoticePayload{Subject: a.Subject, Body: a.Body}
	list := domain.ListAnnouncements(a.EventID)
	b := &pgx.Batch{}
	for _, p := range people {
		sql, args, err := s.noticeInsert(domain.Notice{Kind: domain.NoticeAnnouncement, PersonID: p, EventID: a.EventID,
			OccurrenceID: a.OccurrenceID, Payload: payload, List: list})
		if err != nil {
			return 0, err
		}
		b.Queue(sql, args...)
	}
	written := 0
	if b.Len() > 0 {
		res := tx.SendBatch(ctx, b)
		for range b.Len() {
			tag, err := res.Exec()
			if err != nil {
				_ = res.Close()
				return 0, fmt.Errorf("enqueue announcement %d: %w", id, err)
			}
			written += int(tag.RowsAffected()) // none for a person who left the list
		}
		if err := res.Close(); err != nil {
			return 0, fmt.Errorf("enqueue announcement %d: %w", id, err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE announcements SET status = 'sent', sent_at = $2, recipients = $3, updated_at = $2
		WHERE id = $1`, id, s.now(), written); err != nil {
		return 0, fmt.Errorf("mark announcement %d sent: %w", id, err)
	}
	return written, nil
}

// TestAnnouncement puts one copy of an announcement (not saved, or not yet sent) in the
// outbox for the organiser writing it: the email as its recipients will get it, in the
// organiser's language. It belongs to no list (a test always arrives), which is how the
// renderer knows it is a test.
func (s *Store) TestAnnouncement(ctx context.Context, personID int64, a domain.Announcement) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		return s.enqueueNotice(ctx, tx, domain.Notice{Kind: domain.NoticeAnnouncement, PersonID: personID, EventID: a.EventID,
			OccurrenceID: a.OccurrenceID, Payload: domain.NoticePayload{Subject: a.Subject, Body: a.Body}})
	})
}
