package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/puente-org/puente/domain"
)

// registerNewSQL is a new registration in one statement, run right after the occurrence's
// row is locked (so that it reads, in a snapshot of its own, everything committed before
// the lock was granted): it checks that the session can be registered for and that the
// person has no active registration, reads the places taken (registration_counts), decides
// the status, inserts the registration (or revives a cancelled or declined one) and, with
// $12, its notice.
// It inserts nothing, and returns no row, when the general path must decide instead: the
// session is cancelled, over, closed or missing, the person is already registered, or a
// place is free while people are waiting (they are promoted first); and, with $19, when
// the session is part of a conference the person has not registered for.
//
// $1 occurrence, $2 person, $3 unconfirmed, $4 now, $5 confirm_by, $6–$11 the details,
// $12 notify, $13 the notice's payload, $14 whether it is sensitive, $15–$18 the notice
// kinds for confirmed, waitlisted, pending and held, $19 check the conference registration.
const registerNewSQL = `WITH o AS (
	-- the places taken, kept by a trigger (migration 14), are read only when the capacity
	-- needs them
	SELECT o.event_id, o.status, o.ends_at, e.registration AS mode, e.kind,
	       CASE WHEN e.registration = 'approval' OR e.capacity = 0 THEN true
	            ELSE coalesce((SELECT taken FROM registration_counts WHERE occurrence_id = $1), 0) < e.capacity
	       END AS free
	  FROM occurrences o JOIN events e ON e.id = o.event_id
	 WHERE o.id = $1
), d AS (
	SELECT o.event_id,
	       CASE WHEN o.mode = 'approval' THEN 'pending'
	            WHEN NOT o.free THEN 'waitlisted'
	            WHEN $3::boolean THEN 'held'
	            ELSE 'confirmed' END AS next
	  FROM o
	 WHERE o.status <> 'cancelled' AND o.ends_at > $4::timestamptz AND o.mode <> 'closed'
	   AND (NOT $19::boolean OR o.kind <> 'conference' OR EXISTS (SELECT 1 FROM event_registrations
	            WHERE event_id = o.event_id AND person_id = $2 AND status = 'active'))
	   AND NOT EXISTS (SELECT 1 FROM registrations WHERE occurrence_id = $1 AND person_id = $2
	                      AND status NOT IN ('cancelled', 'declined'))
	   AND NOT (o.mode <> 'approval' AND o.free
	            AND EXISTS (SELECT 1 FROM registrations WHERE occurrence_id = $1 AND status = 'waitlisted'))
), ins AS (
	` + insertRegistration + `
	-- the waitlist is served in the order people took the lock, as on the general path,
	-- although the time was read before it
	SELECT $1, $2, d.next, CASE WHEN d.next = 'waitlisted' THEN greatest($4::timestamptz, (SELECT max(waitlisted_at)
		FROM registrations WHERE occurrence_id = $1 AND status = 'waitlisted')) END, $6::text, $7::text,
		$8::text, $9::text, $10::boolean, $4::timestamptz, $4::timestamptz, $11::jsonb, $5::timestamptz
	  FROM d
	` + reviveRegistration + `
	RETURNING id, status
), notice AS (
	` + insertNotice + `
	SELECT k.kind, k.kind, coalesce((SELECT email FROM people WHERE id = $2), ''), '', '', $14::boolean,
		$4::timestamptz, $4::timestamptz, $2, ins.id, $1, d.event_id, $13::jsonb
	  FROM ins, d,
	       LATERAL (SELECT CASE ins.status WHEN 'waitlisted' THEN $16::text WHEN 'pending' THEN $17::text
	                                       WHEN 'held' THEN $18::text ELSE $15::text END AS kind) k
	 WHERE $12::boolean
)
SELECT id FROM ins`

// insertRegistration and reviveRegistration are the insert of a registration, shared by
// registerNewSQL and the general path (registerInTx): a registration cancelled or declined
// before is revived with the new details, and its old personal links are revoked.
const insertRegistration = `INSERT INTO registrations (occurrence_id, person_id, status, waitlisted_at, name, affiliation,
		country, career_stage, consent_contact, created_at, updated_at, answers, confirm_by)`

const reviveRegistration = `ON CONFLICT (occurrence_id, person_id) DO UPDATE SET status = EXCLUDED.status, waitlisted_at = EXCLUDED.waitlisted_at,
		confirm_by = EXCLUDED.confirm_by,
		name = EXCLUDED.name, affiliation = EXCLUDED.affiliation, country = EXCLUDED.country,
		career_stage = EXCLUDED.career_stage, consent_contact = EXCLUDED.consent_contact, created_at = EXCLUDED.created_at,
		updated_at = EXCLUDED.updated_at, answers = EXCLUDED.answers, link_nonce = registrations.link_nonce + 1`

// batcher is a transaction, or the pool: a batch sent to the pool is one implicit
// transaction (PostgreSQL commits everything up to the pipeline's Sync, or nothing).
type batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// registerNew is the common case of a registration, with the occurrence's row locked for
// as short a time as it can be: the lock, the decision with the insert and its notice (one
// statement), and the read-back go to the server in one round trip. In a transaction
// (registerInTx) the lock is then held for that round trip and the commit; sent to the pool
// (Register) the batch is its own transaction, committed by the server as soon as it has
// run, so the lock is held for no round trip at all. ok is false, with nothing written,
// when the general path must decide (see registerNewSQL); conference checks whether the
// person has registered for the conference first.
func (s *Store) registerNew(ctx context.Context, tx batcher, occID, personID int64, d RegistrationDetails, unconfirmed, conference bool, notify *Notify) (Registration, bool, error) {
	now := s.now()
	var confirmBy any
	if unconfirmed {
		confirmBy = now.Add(UnconfirmedHold)
	}
	var payload []byte
	sensitive := false
	if notify != nil {
		p := notify.payloadFor(personID, domain.NoticePayload{})
		var err error
		if payload, err = json.Marshal(p); err != nil {
			return Registration{}, false, fmt.Errorf("enqueue notice: %w", err)
		}
		sensitive = p.SignInURL != ""
	}
	b := &pgx.Batch{}
	// The same lock as lockOccurrences takes (a no-op when the caller holds it already).
	b.Queue(`SELECT id FROM occurrences WHERE id = $1 FOR UPDATE`, occID)
	b.Queue(registerNewSQL, occID, personID, unconfirmed, now, confirmBy, d.Name, d.Affiliation, d.Country,
		string(d.CareerStage), d.ConsentContact, answersOf(d.Answers), notify != nil, payload, sensitive,
		string(noticeOfStatus(RegConfirmed)), string(noticeOfStatus(RegWaitlisted)), string(noticeOfStatus(RegPending)),
		string(noticeOfStatus(RegHeld)), conference)
	q, qargs := s.registrationQuery(` WHERE r.occurrence_id = $1 AND r.person_id = $2`, occID, personID)
	b.Queue(q, qargs...)
	res := tx.SendBatch(ctx, b)
	defer res.Close()
	if _, err := res.Exec(); err != nil {
		return Registration{}, false, fmt.Errorf("lock occurrences: %w", err)
	}
	var id int64
	switch err := res.QueryRow().Scan(&id); {
	case errors.Is(err, pgx.ErrNoRows):
		return Registration{}, false, nil
	case err != nil:
		return Registration{}, false, fmt.Errorf("register: %w", err)
	}
	r, err := scanRegistration(res.QueryRow())
	if err != nil {
		return r, false, fmt.Errorf("read registration: %w", err)
	}
	if err := res.Close(); err != nil {
		return r, false, fmt.Errorf("register: %w", err)
	}
	return r, true, nil
}
