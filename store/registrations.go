package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/puente-org/puente/domain"
)

// Registration statuses (domain.RegistrationStatus), under their older names.
const (
	RegConfirmed  = domain.RegConfirmed
	RegHeld       = domain.RegHeld
	RegWaitlisted = domain.RegWaitlisted
	RegPending    = domain.RegPending
	RegDeclined   = domain.RegDeclined
	RegCancelled  = domain.RegCancelled
)

// Registration is one person's place (or place in line) for one occurrence.
type Registration struct {
	ID           int64
	OccurrenceID int64
	PersonID     int64
	Email        string
	Status       domain.RegistrationStatus
	Position     int // 1-based place on the waitlist, when waitlisted
	Details      RegistrationDetails
	LinkNonce    int64         // changing it revokes the registration's personal links
	ConfirmBy    *time.Time    // registered by email: the deadline for confirming the address
	Attended     time.Duration // time in the live room, from recorded joins and leaves
	// Recipient is who registered, as emails need them (name, language, time zone); read
	// with the registration so that rendering an email needs no second connection.
	Recipient domain.Person
	CreatedAt time.Time
	UpdatedAt time.Time
}

// RegistrationDetails is what the registration form asks.
type RegistrationDetails struct {
	Name           string
	Affiliation    string
	Country        string
	CareerStage    domain.CareerStage
	ConsentContact bool
	Answers        domain.Answers // to the event's own questions
}

// Notify makes a change tell the people it concerns: each gets a typed row in the outbox
// (domain.Notice: what happened, to whom, about what), in the change's transaction, rendered
// only when it is delivered. A nil *Notify makes the change quiet.
type Notify struct {
	// By is the person making the change (0: an organiser or the system). Their own
	// notices carry Lang, the language of the page they acted from, for when their
	// profile names none.
	By   int64
	Lang string
	// SignInURL goes into By's own registration notice (registration by email). It is a
	// secret: that row is sensitive.
	SignInURL string
	// Subject and Body: an organiser's message (domain.NoticeMessage).
	Subject, Body string
}

// payloadFor is what a notice to personID freezes.
func (n *Notify) payloadFor(personID int64, p domain.NoticePayload) domain.NoticePayload {
	if personID != 0 && personID == n.By {
		p.Lang, p.SignInURL = n.Lang, n.SignInURL
	}
	p.Subject, p.Body = n.Subject, n.Body
	return p
}

// noticeOfStatus is the notice a new registration gets.
func noticeOfStatus(status domain.RegistrationStatus) domain.NoticeKind {
	switch status {
	case RegWaitlisted:
		return domain.NoticeWaitlisted
	case RegPending:
		return domain.NoticePending
	case RegHeld:
		return domain.NoticeHeld
	}
	return domain.NoticeConfirmed
}

// notifyAll enqueues a notice of kind for every active registration of an occurrence;
// payload is what is frozen for all of them.
func (s *Store) notifyAll(ctx context.Context, tx pgx.Tx, notify *Notify, kind domain.NoticeKind, occID int64, payload domain.NoticePayload) (int, error) {
	if notify == nil {
		return 0, nil
	}
	rows, err := tx.Query(ctx, `SELECT r.id, r.person_id FROM registrations r
		WHERE r.occurrence_id = $1 AND r.status IN ('confirmed', 'held', 'waitlisted', 'pending') AND r.person_id IS NOT NULL
		ORDER BY r.id`, occID)
	if err != nil {
		return 0, fmt.Errorf("registrants: %w", err)
	}
	type reg struct{ id, person int64 }
	regs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (reg, error) {
		var x reg
		err := r.Scan(&x.id, &x.person)
		return x, err
	})
	if err != nil {
		return 0, fmt.Errorf("registrants: %w", err)
	}
	// One round trip for all of them: the session stays locked until the change commits.
	b := &pgx.Batch{}
	for _, r := range regs {
		sql, args, err := s.noticeInsert(domain.Notice{Kind: kind, PersonID: r.person, RegistrationID: r.id,
			OccurrenceID: occID, Payload: notify.payloadFor(r.person, payload)})
		if err != nil {
			return 0, err
		}
		b.Queue(sql, args...)
	}
	if b.Len() == 0 {
		return 0, nil
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("enqueue %s notices: %w", kind, err)
	}
	return len(regs), nil
}

// notifyOne enqueues a notice of kind about one registration. The registration of a
// deleted account has nobody to tell.
func (s *Store) notifyOne(ctx context.Context, tx pgx.Tx, notify *Notify, kind domain.NoticeKind, r Registration) error {
	if notify == nil || r.PersonID == 0 {
		return nil
	}
	return s.enqueueNotice(ctx, tx, domain.Notice{Kind: kind, PersonID: r.PersonID, RegistrationID: r.ID,
		OccurrenceID: r.OccurrenceID, Payload: notify.payloadFor(r.PersonID, domain.NoticePayload{})})
}

// readAndNotify reads a registration just written and enqueues n about it (unless notify
// is nil) in one round trip: a registration holds its session's lock until it commits.
func (s *Store) readAndNotify(ctx context.Context, tx pgx.Tx, regID int64, notify *Notify, n domain.Notice) (Registration, error) {
	if notify == nil {
		return s.registrationInTx(ctx, tx, regID)
	}
	n.Payload = notify.payloadFor(n.PersonID, n.Payload)
	sql, args, err := s.noticeInsert(n)
	if err != nil {
		return Registration{}, err
	}
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	q, qargs := s.registrationQuery(` WHERE r.id = $1`, regID)
	b.Queue(q, qargs...)
	res := tx.SendBatch(ctx, b)
	if _, err := res.Exec(); err != nil {
		res.Close()
		return Registration{}, fmt.Errorf("enqueue %s notice: %w", n.Kind, err)
	}
	r, err := scanRegistration(res.QueryRow())
	if cerr := res.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return r, fmt.Errorf("read registration: %w", err)
	}
	return r, nil
}

// occurrenceInTx reads an occurrence (with speakers) and its event inside a transaction.
func occurrenceInTx(ctx context.Context, tx pgx.Tx, id int64) (domain.Occurrence, domain.Event, error) {
	o, err := scanOccurrence(tx.QueryRow(ctx, `SELECT `+occurrenceColumns+` FROM occurrences o WHERE o.id = $1`, id))
	if err != nil {
		return o, domain.Event{}, fmt.Errorf("read occurrence %d: %w", id, err)
	}
	if o.Speakers, err = speakersInTx(ctx, tx, id); err != nil {
		return o, domain.Event{}, err
	}
	e, err := eventInTx(ctx, tx, o.EventID, false)
	return o, e, err
}

// RegisterResult tells the caller what happened, so it can send the right email.
type RegisterResult struct {
	Registration Registration
	Created      bool // false: the person was already registered (idempotent)
}

// lockedOccurrence is what the capacity rules need of an occurrence locked for a change.
type lockedOccurrence struct {
	ID       int64
	EventID  int64
	Status   string
	Ends     time.Time
	Capacity int
	Mode     string // the event's registration mode
}

// lockOccurrences locks occurrences for a change of who holds a place, always in ascending
// id order, and returns them by id. It is the one way occurrence rows are locked: every
// transaction taking several such locks takes them in the same order, so no two can wait
// for each other (a deadlock). Locking again in the same transaction is a no-op. The
// event's capacity and mode are read after the locks are held, so they are current even
// when the lock had to wait for a capacity change to commit.
func lockOccurrences(ctx context.Context, tx pgx.Tx, ids ...int64) (map[int64]lockedOccurrence, error) {
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	out := make(map[int64]lockedOccurrence, len(sorted))
	if len(sorted) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, `SELECT id, event_id, status, ends_at FROM occurrences WHERE id = ANY($1) ORDER BY id FOR UPDATE`, sorted)
	if err != nil {
		return nil, fmt.Errorf("lock occurrences: %w", err)
	}
	locked, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (lockedOccurrence, error) {
		var o lockedOccurrence
		err := r.Scan(&o.ID, &o.EventID, &o.Status, &o.Ends)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("lock occurrences: %w", err)
	}
	if len(locked) != len(sorted) {
		return nil, notFound("occurrence")
	}
	rules := map[int64][2]any{}
	for _, o := range locked {
		if _, ok := rules[o.EventID]; ok {
			continue
		}
		var capacity int
		var mode string
		if err := tx.QueryRow(ctx, `SELECT capacity, registration FROM events WHERE id = $1`, o.EventID).Scan(&capacity, &mode); err != nil {
			return nil, fmt.Errorf("read capacity: %w", err)
		}
		rules[o.EventID] = [2]any{capacity, mode}
	}
	for _, o := range locked {
		o.Capacity, o.Mode = rules[o.EventID][0].(int), rules[o.EventID][1].(string)
		out[o.ID] = o
	}
	return out, nil
}

// lockOccurrencesOf locks (through lockOccurrences) the occurrences whose ids query selects,
// and returns those ids in the order query gives them.
func lockOccurrencesOf(ctx context.Context, tx pgx.Tx, query string, args ...any) ([]int64, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("occurrences to lock: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("occurrences to lock: %w", err)
	}
	if _, err := lockOccurrences(ctx, tx, ids...); err != nil {
		return nil, err
	}
	return ids, nil
}

// lockOccurrence locks one occurrence (through lockOccurrences).
func lockOccurrence(ctx context.Context, tx pgx.Tx, occID int64) (lockedOccurrence, error) {
	m, err := lockOccurrences(ctx, tx, occID)
	if err != nil {
		return lockedOccurrence{}, err
	}
	return m[occID], nil
}

// lockRegistration locks the occurrence of a registration (through lockOccurrences) and
// returns it with the registration's owner; a registration that does not exist is not found.
func lockRegistration(ctx context.Context, tx pgx.Tx, regID int64) (lockedOccurrence, int64, error) {
	var occID, owner int64
	err := tx.QueryRow(ctx, `SELECT occurrence_id, coalesce(person_id, 0) FROM registrations WHERE id = $1`, regID).Scan(&occID, &owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return lockedOccurrence{}, 0, notFound("registration")
	}
	if err != nil {
		return lockedOccurrence{}, 0, fmt.Errorf("read registration: %w", err)
	}
	lo, err := lockOccurrence(ctx, tx, occID)
	return lo, owner, err
}

// confirmedCount reads the places taken (confirmed, and held for a confirmation) as the
// trigger of migration 14 keeps them, the count registerNewSQL reads too, so both paths
// decide from one number (and neither counts rows under the session's lock).
func confirmedCount(ctx context.Context, tx pgx.Tx, occID int64) (int, error) {
	var n int
	err := tx.QueryRow(ctx, `SELECT coalesce((SELECT taken FROM registration_counts WHERE occurrence_id = $1), 0)`, occID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count registrations: %w", err)
	}
	return n, nil
}

// Register gives person a place for an occurrence: confirmed while there is room (or
// pending approval in approval mode), else on the waitlist in arrival order. Registering
// again returns the existing registration unchanged.
func (s *Store) Register(ctx context.Context, occID, personID int64, d RegistrationDetails, notify *Notify) (RegisterResult, error) {
	return s.register(ctx, occID, personID, d, false, notify)
}

func (s *Store) register(ctx context.Context, occID, personID int64, d RegistrationDetails, unconfirmed bool, notify *Notify) (RegisterResult, error) {
	// A new registration, the common case, is one round trip and its own transaction:
	// the session's row is locked only while the server runs it (a rush of registrations
	// for one session is served at the rate the server can run them, not at the rate of
	// round trips).
	r, ok, err := s.registerNew(ctx, s.pool, occID, personID, d, unconfirmed, true, notify)
	if err != nil || ok {
		return RegisterResult{Registration: r, Created: ok}, err
	}
	// Anything else in a transaction of its own (nothing was written).
	var res RegisterResult
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var eventID int64
		var kind string
		err := tx.QueryRow(ctx, `SELECT e.id, e.kind FROM occurrences o JOIN events e ON e.id = o.event_id WHERE o.id = $1`,
			occID).Scan(&eventID, &kind)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("occurrence")
		}
		if err != nil {
			return fmt.Errorf("read occurrence: %w", err)
		}
		if kind == string(domain.KindConference) {
			var registered bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM event_registrations WHERE event_id = $1 AND person_id = $2
				AND status = 'active')`, eventID, personID).Scan(&registered); err != nil {
				return fmt.Errorf("conference registration: %w", err)
			}
			if !registered {
				return domain.New(domain.CodeConflict, "err.registration.conference_first")
			}
		}
		res.Registration, res.Created, err = s.registerInTx(ctx, tx, occID, personID, d, unconfirmed, notify)
		return err
	})
	return res, err
}

// UnconfirmedHold is how long a registration made by email, without signing in, holds its
// place (or its place in line) before the owner of the address confirms it.
const UnconfirmedHold = domain.UnconfirmedHold

// RegisterUnconfirmed registers the owner of an email address who has not proved it yet
// (the sign-in-free form): a free place is only held ('held', counted against capacity),
// and the registration is released by ReleaseUnconfirmed unless ConfirmRegistration is
// called within UnconfirmedHold. An existing registration of that person is left as it is.
func (s *Store) RegisterUnconfirmed(ctx context.Context, occID, personID int64, d RegistrationDetails, notify *Notify) (RegisterResult, error) {
	return s.register(ctx, occID, personID, d, true, notify)
}

// ConfirmRegistration confirms an unconfirmed registration (its owner opened the link in
// the email): a held place becomes confirmed and the person is told (kind "confirmed").
// A registration released meanwhile, or past its deadline, is refused as expired.
func (s *Store) ConfirmRegistration(ctx context.Context, regID int64, notify *Notify) (Registration, error) {
	var r Registration
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		_, _, err := lockRegistration(ctx, tx, regID)
		if err != nil {
			return err
		}
		var status domain.RegistrationStatus
		var by *time.Time
		if err := tx.QueryRow(ctx, `SELECT status, confirm_by FROM registrations WHERE id = $1`, regID).Scan(&status, &by); err != nil {
			return fmt.Errorf("read registration: %w", err)
		}
		switch {
		case status == RegCancelled || status == RegDeclined || (by != nil && !s.now().Before(*by)):
			return domain.New(domain.CodeExpired, "err.registration.confirm_expired")
		case by == nil: // confirmed already
			r, err = s.registrationInTx(ctx, tx, regID)
			return err
		}
		r, _, err = s.confirmInTx(ctx, tx, regID, notify)
		return err
	})
	return r, err
}

// confirmInTx ends the wait for an address's confirmation: a held place becomes
// confirmed (and the person is told); a place in line or awaiting approval stays so.
func (s *Store) confirmInTx(ctx context.Context, tx pgx.Tx, regID int64, notify *Notify) (Registration, bool, error) {
	var status string
	if err := tx.QueryRow(ctx, `UPDATE registrations SET confirm_by = NULL, updated_at = $2,
		status = CASE WHEN status = 'held' THEN 'confirmed' ELSE status END WHERE id = $1 RETURNING status`,
		regID, s.now()).Scan(&status); err != nil {
		return Registration{}, false, fmt.Errorf("confirm registration: %w", err)
	}
	r, err := s.registrationInTx(ctx, tx, regID)
	if err != nil {
		return r, false, err
	}
	return r, false, s.notifyOne(ctx, tx, notify, noticeOfStatus(r.Status), r)
}

// ReleaseUnconfirmed cancels the registrations made by email whose owners did not confirm
// them in time, and gives the freed places to the waitlists (telling those promoted). It
// returns how many it released. serve runs it every minute.
func (s *Store) ReleaseUnconfirmed(ctx context.Context, notify *Notify) (int, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT occurrence_id FROM registrations
		WHERE confirm_by <= $1 AND status IN ('held', 'waitlisted', 'pending') ORDER BY occurrence_id`, s.now())
	if err != nil {
		return 0, fmt.Errorf("unconfirmed registrations: %w", err)
	}
	occIDs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("unconfirmed registrations: %w", err)
	}
	released := 0
	for _, occID := range occIDs {
		err := s.inTx(ctx, func(tx pgx.Tx) error {
			if _, err := lockOccurrence(ctx, tx, occID); err != nil {
				return err
			}
			// confirm_by stays, so that the confirmation link can say it expired.
			tag, err := tx.Exec(ctx, `UPDATE registrations SET status = 'cancelled', waitlisted_at = NULL, updated_at = $2
				WHERE occurrence_id = $1 AND confirm_by <= $2 AND status IN ('held', 'waitlisted', 'pending')`, occID, s.now())
			if err != nil {
				return fmt.Errorf("release registrations: %w", err)
			}
			released += int(tag.RowsAffected())
			_, err = s.promote(ctx, tx, occID, notify)
			return err
		})
		if err != nil {
			return released, err
		}
	}
	return released, nil
}

// CancelRegistration gives up a person's place; if it was a confirmed place, the first
// people on the waitlist are promoted in the same transaction. It returns the promoted
// registrations (to tell them).
func (s *Store) CancelRegistration(ctx context.Context, occID, personID int64, notify *Notify) (cancelled Registration, promoted []Registration, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := lockOccurrence(ctx, tx, occID); err != nil {
			return err
		}
		var id int64
		err := tx.QueryRow(ctx, `UPDATE registrations SET status = 'cancelled', waitlisted_at = NULL, confirm_by = NULL,
			link_nonce = link_nonce + 1, updated_at = $3
			WHERE occurrence_id = $1 AND person_id = $2 AND status IN ('confirmed', 'held', 'waitlisted', 'pending') RETURNING id`,
			occID, personID, s.now()).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return domain.New(domain.CodeNotFound, "err.registration.not_registered")
		}
		if err != nil {
			return fmt.Errorf("cancel registration: %w", err)
		}
		if cancelled, err = s.registrationInTx(ctx, tx, id); err != nil {
			return err
		}
		promoted, err = s.promote(ctx, tx, occID, notify)
		return err
	})
	return cancelled, promoted, err
}

// promote fills free places from the waitlist, first come first served. The occurrence
// must be locked by the caller.
func (s *Store) promote(ctx context.Context, tx pgx.Tx, occID int64, notify *Notify) ([]Registration, error) {
	var capacity int
	if err := tx.QueryRow(ctx, `SELECT e.capacity FROM occurrences o JOIN events e ON e.id = o.event_id WHERE o.id = $1`,
		occID).Scan(&capacity); err != nil {
		return nil, fmt.Errorf("read capacity: %w", err)
	}
	n, err := confirmedCount(ctx, tx, occID)
	if err != nil {
		return nil, err
	}
	free := capacity - n
	if capacity == 0 {
		free = 1 << 30
	}
	if free <= 0 {
		return nil, nil
	}
	// Someone still to confirm their address gets a held place, not a confirmed one.
	rows, err := tx.Query(ctx, `UPDATE registrations SET waitlisted_at = NULL, updated_at = $3,
		status = CASE WHEN confirm_by IS NULL THEN 'confirmed' ELSE 'held' END
		WHERE id IN (SELECT id FROM registrations WHERE occurrence_id = $1 AND status = 'waitlisted'
		             ORDER BY waitlisted_at, id LIMIT $2) RETURNING id`, occID, free, s.now())
	if err != nil {
		return nil, fmt.Errorf("promote: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("promote: %w", err)
	}
	var out []Registration
	for _, id := range ids {
		r, err := s.registrationInTx(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		if err := s.notifyOne(ctx, tx, notify, domain.NoticePromoted, r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// registrationSelect reads a registration (one of a deleted account too: no person, email
// or name; see DeleteAccount) with the time its person spent in the live
// room: the union of their attendance rows (overlapping rows, from a resume after a crash
// or a second device, count once); a row still open counts up to now or the occurrence's
// end, whichever is first. range_agg merges the intervals (PostgreSQL 14 or later).
const registrationSelect = `SELECT r.id, r.occurrence_id, coalesce(r.person_id, 0), coalesce(p.email, ''), r.status,
	CASE WHEN r.status = 'waitlisted' THEN (SELECT count(*) FROM registrations w WHERE w.occurrence_id = r.occurrence_id
		AND w.status = 'waitlisted' AND (w.waitlisted_at, w.id) <= (r.waitlisted_at, r.id)) ELSE 0 END,
	r.name, r.affiliation, r.country, r.career_stage, r.consent_contact, r.answers, r.link_nonce, r.confirm_by, r.created_at, r.updated_at,
	coalesce(p.name, ''), coalesce(p.language, ''), coalesce(p.time_zone, ''),
	(SELECT coalesce(extract(epoch FROM sum(upper(t) - lower(t))), 0)::bigint
	   FROM unnest((SELECT range_agg(tstzrange(a.joined_at, greatest(a.joined_at, coalesce(a.left_at, least($now, o2.ends_at)))))
	                  FROM attendance a JOIN occurrences o2 ON o2.id = a.occurrence_id
	                 WHERE a.occurrence_id = r.occurrence_id AND a.person_id = r.person_id)) t)
	FROM registrations r LEFT JOIN people p ON p.id = r.person_id`

func scanRegistration(row pgx.Row) (Registration, error) {
	var r Registration
	var stage string
	var attended int64
	err := row.Scan(&r.ID, &r.OccurrenceID, &r.PersonID, &r.Email, &r.Status, &r.Position, &r.Details.Name,
		&r.Details.Affiliation, &r.Details.Country, &stage, &r.Details.ConsentContact, &r.Details.Answers, &r.LinkNonce, &r.ConfirmBy, &r.CreatedAt, &r.UpdatedAt,
		&r.Recipient.Profile.Name, &r.Recipient.Profile.Language, &r.Recipient.Profile.TimeZone, &attended)
	r.Attended = time.Duration(attended) * time.Second
	r.Details.CareerStage = domain.CareerStage(stage)
	r.Recipient.ID, r.Recipient.Email = r.PersonID, r.Email
	return r, err
}

// registrationQuery is registrationSelect followed by rest (over args); the store's clock
// is added as the last argument (attendance still open counts up to it).
func (s *Store) registrationQuery(rest string, args ...any) (string, []any) {
	return strings.Replace(registrationSelect, "$now", "$"+strconv.Itoa(len(args)+1), 1) + rest, append(args, s.now())
}

func (s *Store) registrationInTx(ctx context.Context, tx pgx.Tx, id int64) (Registration, error) {
	q, args := s.registrationQuery(` WHERE r.id = $1`, id)
	r, err := scanRegistration(tx.QueryRow(ctx, q, args...))
	if err != nil {
		return r, fmt.Errorf("read registration: %w", err)
	}
	return r, nil
}

// RegistrationOf returns a person's registration for an occurrence.
func (s *Store) RegistrationOf(ctx context.Context, occID, personID int64) (Registration, error) {
	q, args := s.registrationQuery(` WHERE r.occurrence_id = $1 AND r.person_id = $2`, occID, personID)
	r, err := scanRegistration(s.pool.QueryRow(ctx, q, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, domain.New(domain.CodeNotFound, "err.registration.not_registered")
	}
	if err != nil {
		return r, fmt.Errorf("read registration: %w", err)
	}
	return r, nil
}

// RegistrationFilter selects registrations for organisers' lists.
type RegistrationFilter struct {
	OccurrenceID int64
	EventID      int64
	PersonID     int64
	Status       domain.RegistrationStatus
}

// Registrations lists registrations: confirmed first, then the waitlist in order, then the rest.
func (s *Store) Registrations(ctx context.Context, f RegistrationFilter) ([]Registration, error) {
	q, args := s.registrationQuery(` JOIN occurrences o ON o.id = r.occurrence_id WHERE ($1 = 0 OR r.occurrence_id = $1)
		AND ($2 = 0 OR o.event_id = $2) AND ($3 = 0 OR r.person_id = $3) AND ($4 = '' OR r.status = $4)
		ORDER BY o.starts_at, CASE r.status WHEN 'confirmed' THEN 0 WHEN 'held' THEN 0 WHEN 'waitlisted' THEN 1 WHEN 'pending' THEN 2 ELSE 3 END,
		r.waitlisted_at, r.id`, f.OccurrenceID, f.EventID, f.PersonID, f.Status)
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list registrations: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Registration, error) { return scanRegistration(r) })
	if err != nil {
		return nil, fmt.Errorf("list registrations: %w", err)
	}
	return out, nil
}

// RenewRegistrationLinks changes the nonce of a person's active registration, so every
// personal link given out for it (join, cancel) stops working, and sends the confirmation
// again with fresh links.
func (s *Store) RenewRegistrationLinks(ctx context.Context, regID, personID int64, notify *Notify) (Registration, error) {
	var r Registration
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		_, owner, err := lockRegistration(ctx, tx, regID)
		if err != nil {
			return err
		}
		if owner != personID {
			return notFound("registration")
		}
		tag, err := tx.Exec(ctx, `UPDATE registrations SET link_nonce = link_nonce + 1, updated_at = $2
			WHERE id = $1 AND status IN ('confirmed', 'held', 'waitlisted', 'pending')`, regID, s.now())
		if err != nil {
			return fmt.Errorf("renew links: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return domain.New(domain.CodeConflict, "err.registration.not_active")
		}
		if r, err = s.registrationInTx(ctx, tx, regID); err != nil {
			return err
		}
		return s.notifyOne(ctx, tx, notify, noticeOfStatus(r.Status), r)
	})
	return r, err
}

// RegistrationByID returns one registration (for its personal links).
func (s *Store) RegistrationByID(ctx context.Context, id int64) (Registration, error) {
	q, args := s.registrationQuery(` WHERE r.id = $1`, id)
	r, err := scanRegistration(s.pool.QueryRow(ctx, q, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, notFound("registration")
	}
	if err != nil {
		return r, fmt.Errorf("read registration: %w", err)
	}
	return r, nil
}

// SendReminders puts a reminder in the outbox for every confirmed registration whose
// occurrence starts within one of its event's reminder offsets, once per offset, and only
// for people who registered before that reminder was due (someone registering 30 minutes
// before the start gets no "tomorrow" reminder). It returns how many it queued.
func (s *Store) SendReminders(ctx context.Context) (int, error) {
	now := s.now()
	rows, err := s.pool.Query(ctx, `SELECT r.id, m FROM registrations r
		JOIN occurrences o ON o.id = r.occurrence_id JOIN events e ON e.id = o.event_id, unnest(e.reminder_minutes) m
		WHERE r.status = 'confirmed' AND r.person_id IS NOT NULL AND o.status = 'scheduled' AND o.starts_at > $1
		  AND o.starts_at - make_interval(mins => m) <= $1 AND r.created_at < o.starts_at - make_interval(mins => m)
		  AND NOT EXISTS (SELECT 1 FROM reminders_sent s WHERE s.registration_id = r.id AND s.minutes_before = m)
		ORDER BY o.starts_at LIMIT 1000`, now)
	if err != nil {
		return 0, fmt.Errorf("due reminders: %w", err)
	}
	type due struct {
		id      int64
		minutes int
	}
	dues, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (due, error) {
		var d due
		err := r.Scan(&d.id, &d.minutes)
		return d, err
	})
	if err != nil {
		return 0, fmt.Errorf("due reminders: %w", err)
	}
	sent := 0
	for _, d := range dues {
		err := s.inTx(ctx, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `INSERT INTO reminders_sent (registration_id, minutes_before, sent_at) VALUES ($1, $2, $3)
				ON CONFLICT DO NOTHING`, d.id, d.minutes, now)
			if err != nil {
				return fmt.Errorf("record reminder: %w", err)
			}
			if tag.RowsAffected() == 0 {
				return nil // another instance sent it
			}
			r, err := s.registrationInTx(ctx, tx, d.id)
			if err != nil {
				return err
			}
			sent++
			return s.notifyOne(ctx, tx, &Notify{}, domain.NoticeReminder, r)
		})
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// PlacesTaken is, for each of the occurrences given, the places taken (confirmed and held
// registrations), as the trigger of migration 14 keeps them: the number registration
// decides by, so a page's "3 places left" agrees with what registering then does.
// Occurrences with no place taken are absent.
func (s *Store) PlacesTaken(ctx context.Context, ids []int64) (map[int64]int, error) {
	out := map[int64]int{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT occurrence_id, taken FROM registration_counts WHERE occurrence_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("places taken: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("places taken: %w", err)
		}
		out[id] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("places taken: %w", err)
	}
	return out, nil
}
