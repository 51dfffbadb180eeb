package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/puente-org/puente/domain"
)

// Organiser actions on one registration (domain.RegistrationAction), under their older names.
const (
	ActionApprove = domain.ActionApprove
	ActionDecline = domain.ActionDecline
	ActionPromote = domain.ActionPromote
	ActionRemove  = domain.ActionRemove
)

// ActOnRegistration applies an organiser's action atomically under the occurrence's lock,
// telling the person (and anyone promoted into a freed place).
func (s *Store) ActOnRegistration(ctx context.Context, regID int64, action domain.RegistrationAction, notify *Notify) (Registration, error) {
	var out Registration
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		lo, _, err := lockRegistration(ctx, tx, regID)
		if err != nil {
			return err
		}
		occID, capacity := lo.ID, lo.Capacity
		r, err := s.registrationInTx(ctx, tx, regID)
		if err != nil {
			return err
		}
		n, err := confirmedCount(ctx, tx, occID)
		if err != nil {
			return err
		}
		room := capacity == 0 || n < capacity
		set := func(status domain.RegistrationStatus, kind domain.NoticeKind) error {
			var wait *time.Time
			if status == RegWaitlisted {
				now := s.now()
				wait = &now
			}
			// Ending a registration revokes its personal links.
			// A place given to someone who has not confirmed their address is only held.
			if _, err := tx.Exec(ctx, `UPDATE registrations SET waitlisted_at = $3, updated_at = $4,
				status = CASE WHEN $2 = 'confirmed' AND confirm_by IS NOT NULL THEN 'held' ELSE $2 END,
				link_nonce = link_nonce + CASE WHEN $2 IN ('cancelled', 'declined') THEN 1 ELSE 0 END WHERE id = $1`,
				regID, status, wait, s.now()); err != nil {
				return fmt.Errorf("update registration: %w", err)
			}
			if out, err = s.registrationInTx(ctx, tx, regID); err != nil {
				return err
			}
			return s.notifyOne(ctx, tx, notify, kind, out)
		}
		conflict := func(id string) error { return &domain.Error{Code: domain.CodeConflict, Field: "action", ID: id} }
		switch action {
		case ActionApprove:
			if r.Status != RegPending {
				return conflict("err.action.approve_pending")
			}
			if room {
				return set(RegConfirmed, domain.NoticeApproved)
			}
			return set(RegWaitlisted, domain.NoticeWaitlisted)
		case ActionDecline:
			if r.Status != RegPending && r.Status != RegWaitlisted {
				return conflict("err.action.decline")
			}
			return set(RegDeclined, domain.NoticeDeclined)
		case ActionPromote:
			if r.Status != RegWaitlisted && r.Status != RegPending {
				return conflict("err.action.promote")
			}
			if !room {
				return conflict("err.action.no_place")
			}
			return set(RegConfirmed, domain.NoticePromoted)
		case ActionRemove:
			if r.Status == RegCancelled || r.Status == RegDeclined {
				return conflict("err.action.not_active")
			}
			if err := set(RegCancelled, domain.NoticeRemovedByOrganiser); err != nil {
				return err
			}
			_, err := s.promote(ctx, tx, occID, notify)
			return err
		default:
			return domain.Invalid("action", "err.action.unknown")
		}
	})
	return out, err
}

// MessageRegistrants puts a message from the organisers in the outbox for everyone with an
// active registration for the occurrence, in one transaction, and returns how many.
func (s *Store) MessageRegistrants(ctx context.Context, occID int64, notify *Notify) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if notify == nil {
			return errors.New("message registrants: no message")
		}
		var err error
		n, err = s.notifyAll(ctx, tx, notify, domain.NoticeMessage, occID, domain.NoticePayload{})
		return err
	})
	return n, err
}

// RecordJoin and RecordLeave note a person entering and leaving an occurrence's live room
// (the live sessions call them); attendance sums the time, each person's overlapping rows
// merged (registrationSelect).
func (s *Store) RecordJoin(ctx context.Context, occID, personID int64) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO attendance (occurrence_id, person_id, joined_at) VALUES ($1, $2, $3) RETURNING id`,
		occID, personID, s.now()).Scan(&id)
	if err != nil {
		return 0, liveWriteError("record join", err)
	}
	return id, nil
}

// RecordLeave closes an open attendance row at the given time (when the person was last
// connected; the zero time means now), never before the join. A row already closed stays
// as it is.
func (s *Store) RecordLeave(ctx context.Context, attendanceID int64, at time.Time) error {
	if at.IsZero() {
		at = s.now()
	}
	if _, err := s.pool.Exec(ctx, `UPDATE attendance SET left_at = greatest(joined_at, $2) WHERE id = $1 AND left_at IS NULL`,
		attendanceID, at); err != nil {
		return fmt.Errorf("record leave: %w", err)
	}
	return nil
}

// TouchAttendance notes that the people of these open attendance rows are still connected
// at the given time, so that a crash loses at most the time since. A row's touch never
// moves back. One statement: the rows are touched together or not at all.
func (s *Store) TouchAttendance(ctx context.Context, attendanceIDs []int64, at time.Time) error {
	if len(attendanceIDs) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `UPDATE attendance SET seen_at = greatest(seen_at, joined_at, $2)
		WHERE id = ANY($1) AND left_at IS NULL`, attendanceIDs, at); err != nil {
		return fmt.Errorf("touch attendance: %w", err)
	}
	return nil
}

// CloseOpenAttendance closes every attendance row still open (left by a crash or a
// shutdown) at its last touch, else at its join, and returns how many. The live members
// that pointed at those rows no longer have an open row (attendance_id is cleared), in the
// same statement.
func (s *Store) CloseOpenAttendance(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `WITH closed AS (
			UPDATE attendance SET left_at = coalesce(seen_at, joined_at) WHERE left_at IS NULL RETURNING id
		), members AS (
			UPDATE live_members m SET attendance_id = NULL, updated_at = $1 FROM closed WHERE m.attendance_id = closed.id
		)
		SELECT count(*) FROM closed`, s.now()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("close open attendance: %w", err)
	}
	return n, nil
}

// MoveRegistration moves a person's registration to another session of the same event:
// their place at the old one is freed (the waitlist moves up) and they take a place at the
// new one under its own capacity (or its waitlist), in one transaction. Locks are taken in
// session order, so concurrent moves cannot deadlock.
func (s *Store) MoveRegistration(ctx context.Context, regID, toOccID int64, notify *Notify) (Registration, error) {
	var out Registration
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var fromOcc, personID, fromEvent, toEvent int64
		err := tx.QueryRow(ctx, `SELECT r.occurrence_id, coalesce(r.person_id, 0), o.event_id FROM registrations r
			JOIN occurrences o ON o.id = r.occurrence_id WHERE r.id = $1`, regID).Scan(&fromOcc, &personID, &fromEvent)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("registration")
		}
		if err != nil {
			return fmt.Errorf("read registration: %w", err)
		}
		if personID == 0 { // a deleted account's place: nobody to move
			return &domain.Error{Code: domain.CodeConflict, Field: "action", ID: "err.account.registration_anonymised"}
		}
		err = tx.QueryRow(ctx, `SELECT event_id FROM occurrences WHERE id = $1`, toOccID).Scan(&toEvent)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && toEvent != fromEvent) {
			return domain.Invalid("occurrence_id", "err.move.other_event")
		}
		if err != nil {
			return fmt.Errorf("read session: %w", err)
		}
		if toOccID == fromOcc {
			return domain.Invalid("occurrence_id", "err.move.same")
		}
		locked, err := lockOccurrences(ctx, tx, fromOcc, toOccID)
		if err != nil {
			return err
		}
		r, err := s.registrationInTx(ctx, tx, regID)
		if err != nil {
			return err
		}
		if r.Status == RegCancelled || r.Status == RegDeclined {
			return &domain.Error{Code: domain.CodeConflict, Field: "action", ID: "err.action.not_active"}
		}
		if to := locked[toOccID]; to.Capacity > 0 && to.Mode != domain.RegistrationApproval {
			n, err := confirmedCount(ctx, tx, toOccID)
			if err != nil {
				return err
			}
			if n >= to.Capacity {
				return domain.New(domain.CodeConflict, "err.registration.move_full").WithField("occurrence_id")
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE registrations SET status = 'cancelled', waitlisted_at = NULL, link_nonce = link_nonce + 1,
			updated_at = $2 WHERE id = $1`, regID, s.now()); err != nil {
			return fmt.Errorf("leave the old session: %w", err)
		}
		if _, err := s.promote(ctx, tx, fromOcc, notify); err != nil {
			return err
		}
		out, _, err = s.registerInTx(ctx, tx, toOccID, personID, r.Details, false, notify)
		return err
	})
	return out, err
}
