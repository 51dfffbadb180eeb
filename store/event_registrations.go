package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/puente-org/puente/domain"
)

// EventRegistrationResult is a whole-series or conference registration and what it gave
// for each future session.
type EventRegistrationResult struct {
	Created  bool
	Sessions []Registration
}

// registerInTx is Register's core, inside the caller's transaction. An unconfirmed
// registration (made by email, without signing in) holds a place as 'held' rather than
// 'confirmed' and is released unless confirmed by UnconfirmedHold from now; a registration
// by the person themselves confirms an unconfirmed one they already have.
func (s *Store) registerInTx(ctx context.Context, tx pgx.Tx, occID, personID int64, d RegistrationDetails, unconfirmed bool, notify *Notify) (Registration, bool, error) {
	if r, ok, err := s.registerNew(ctx, tx, occID, personID, d, unconfirmed, false, notify); err != nil || ok {
		return r, ok, err
	}
	// Anything else (the session cannot be registered for, the person already has a
	// registration, or a free place must first go to the people waiting) takes the general
	// path below, under the lock registerNew already holds.
	lo, err := lockOccurrence(ctx, tx, occID)
	if err != nil {
		return Registration{}, false, err
	}
	ends, capacity, mode := lo.Ends, lo.Capacity, lo.Mode
	switch {
	case lo.Status == domain.StatusCancelled:
		return Registration{}, false, domain.New(domain.CodeConflict, "err.registration.session_cancelled")
	case !ends.After(s.now()):
		return Registration{}, false, domain.New(domain.CodeExpired, "err.registration.session_over")
	case mode == domain.RegistrationClosed:
		return Registration{}, false, domain.New(domain.CodeConflict, "err.registration.closed")
	}
	var id int64
	var current domain.RegistrationStatus
	var pending bool // awaiting confirmation of the address
	err = tx.QueryRow(ctx, `SELECT id, status, confirm_by IS NOT NULL FROM registrations WHERE occurrence_id = $1 AND person_id = $2`,
		occID, personID).Scan(&id, &current, &pending)
	if err == nil && current.Active() {
		if pending && !unconfirmed {
			return s.confirmInTx(ctx, tx, id, notify)
		}
		r, err := s.registrationInTx(ctx, tx, id)
		return r, false, err
	}
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return Registration{}, false, fmt.Errorf("read registration: %w", err)
	}
	next := RegPending
	if mode != domain.RegistrationApproval {
		n, err := confirmedCount(ctx, tx, occID)
		if err != nil {
			return Registration{}, false, err
		}
		if capacity == 0 || n < capacity {
			// A free place goes to the people waiting before any newcomer (a place can
			// be free with people waiting only if a change forgot to promote them).
			var waiting bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM registrations WHERE occurrence_id = $1 AND status = 'waitlisted')`,
				occID).Scan(&waiting); err != nil {
				return Registration{}, false, fmt.Errorf("read waitlist: %w", err)
			}
			if waiting {
				if _, err := s.promote(ctx, tx, occID, notify); err != nil {
					return Registration{}, false, err
				}
				if n, err = confirmedCount(ctx, tx, occID); err != nil {
					return Registration{}, false, err
				}
			}
		}
		next = RegConfirmed
		if capacity > 0 && n >= capacity {
			next = RegWaitlisted
		}
	}
	now := s.now()
	var waitSince, confirmBy *time.Time
	if next == RegWaitlisted {
		waitSince = &now
	}
	if unconfirmed {
		by := now.Add(UnconfirmedHold)
		confirmBy = &by
		if next == RegConfirmed {
			next = RegHeld
		}
	}
	err = tx.QueryRow(ctx, insertRegistration+`
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12)
		`+reviveRegistration+` RETURNING id`, occID, personID, next, waitSince, d.Name, d.Affiliation, d.Country, string(d.CareerStage),
		d.ConsentContact, now, answersOf(d.Answers), confirmBy).Scan(&id)
	if err != nil {
		return Registration{}, false, fmt.Errorf("register: %w", err)
	}
	r, err := s.readAndNotify(ctx, tx, id, notify, domain.Notice{Kind: noticeOfStatus(next), PersonID: personID,
		RegistrationID: id, OccurrenceID: occID})
	return r, err == nil, err
}

// RegisterForEvent registers a person for a whole series (every future session, and the
// sessions added later) or a conference (all its sessions), in one transaction, with one
// summary notice rather than one per session. Sessions that are full put the person on their
// waitlists; sessions that are over or cancelled are skipped.
func (s *Store) RegisterForEvent(ctx context.Context, eventID, personID int64, d RegistrationDetails, notify *Notify) (EventRegistrationResult, error) {
	var res EventRegistrationResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		e, err := eventInTx(ctx, tx, eventID, false)
		if err != nil {
			return err
		}
		if e.Registration == domain.RegistrationClosed {
			return domain.New(domain.CodeConflict, "err.registration.closed")
		}
		tag, err := tx.Exec(ctx, `INSERT INTO event_registrations (event_id, person_id, status, created_at, updated_at)
			VALUES ($1, $2, 'active', $3, $3) ON CONFLICT (event_id, person_id) DO UPDATE SET status = 'active', updated_at = $3
			WHERE event_registrations.status <> 'active'`, eventID, personID, s.now())
		if err != nil {
			return fmt.Errorf("register for event: %w", err)
		}
		res.Created = tag.RowsAffected() > 0
		// All sessions are locked at once, in the one order every transaction uses.
		ids, err := lockOccurrencesOf(ctx, tx, `SELECT id FROM occurrences WHERE event_id = $1 AND status = 'scheduled' AND ends_at > $2
			ORDER BY starts_at, id`, eventID, s.now())
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return domain.New(domain.CodeExpired, "err.registration.no_upcoming")
		}
		for _, id := range ids {
			r, _, err := s.registerInTx(ctx, tx, id, personID, d, false, nil)
			if err != nil {
				return err
			}
			res.Sessions = append(res.Sessions, r)
		}
		if notify == nil || !res.Created {
			return nil
		}
		return s.enqueueNotice(ctx, tx, domain.Notice{Kind: domain.NoticeEventRegistration, PersonID: personID,
			EventID: eventID, Payload: notify.payloadFor(personID, domain.NoticePayload{})})
	})
	return res, err
}

// CancelEventRegistration ends a whole-series or conference registration and every future
// session registration it holds; freed places go to the waitlists.
func (s *Store) CancelEventRegistration(ctx context.Context, eventID, personID int64, notify *Notify) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE event_registrations SET status = 'cancelled', updated_at = $3
			WHERE event_id = $1 AND person_id = $2 AND status = 'active'`, eventID, personID, s.now())
		if err != nil {
			return fmt.Errorf("cancel event registration: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return domain.New(domain.CodeNotFound, "err.registration.not_registered_whole")
		}
		ids, err := lockOccurrencesOf(ctx, tx, `SELECT o.id FROM occurrences o JOIN registrations r ON r.occurrence_id = o.id
			WHERE o.event_id = $1 AND r.person_id = $2 AND r.status IN ('confirmed', 'held', 'waitlisted', 'pending') AND o.ends_at > $3
			ORDER BY o.starts_at, o.id`, eventID, personID, s.now())
		if err != nil {
			return err
		}
		for _, occID := range ids {
			if _, err := tx.Exec(ctx, `UPDATE registrations SET status = 'cancelled', waitlisted_at = NULL, confirm_by = NULL,
				link_nonce = link_nonce + 1, updated_at = $3 WHERE occurrence_id = $1 AND person_id = $2`, occID, personID, s.now()); err != nil {
				return fmt.Errorf("cancel session registration: %w", err)
			}
			if _, err := s.promote(ctx, tx, occID, notify); err != nil {
				return err
			}
		}
		return nil
	})
}

// EventRegistered reports whether a person holds an active whole-event registration.
func (s *Store) EventRegistered(ctx context.Context, eventID, personID int64) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM event_registrations WHERE event_id = $1 AND person_id = $2
		AND status = 'active')`, eventID, personID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("event registration: %w", err)
	}
	return ok, nil
}

// registerEventRegistrants gives every active whole-event registrant a place in a new
// session (quietly: reminders and the personal feed tell them).
func (s *Store) registerEventRegistrants(ctx context.Context, tx pgx.Tx, eventID, occID int64) error {
	rows, err := tx.Query(ctx, `SELECT er.person_id, p.name, p.affiliation, p.country, p.career_stage FROM event_registrations er
		JOIN people p ON p.id = er.person_id WHERE er.event_id = $1 AND er.status = 'active' ORDER BY er.created_at, er.id`, eventID)
	if err != nil {
		return fmt.Errorf("event registrants: %w", err)
	}
	type who struct {
		id int64
		d  RegistrationDetails
	}
	people, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (who, error) {
		var w who
		var stage string
		err := r.Scan(&w.id, &w.d.Name, &w.d.Affiliation, &w.d.Country, &stage)
		w.d.CareerStage = domain.CareerStage(stage)
		return w, err
	})
	if err != nil {
		return fmt.Errorf("event registrants: %w", err)
	}
	for _, w := range people {
		if _, _, err := s.registerInTx(ctx, tx, occID, w.id, w.d, false, nil); err != nil {
			return err
		}
	}
	return nil
}

func answersOf(a domain.Answers) domain.Answers {
	if a == nil {
		return domain.Answers{}
	}
	return a
}
