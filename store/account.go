package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/puente-org/puente/domain"
)

// ExportSection is one part of a person's data export: a name and its JSON (an object
// for a single thing, such as the profile; an array for lists).
type ExportSection struct {
	Name string
	Data json.RawMessage
}

// AccountExport is everything Puente holds about a person, section by section, read in
// one consistent snapshot.
type AccountExport struct {
	PersonID   int64
	ExportedAt time.Time
	Sections   []ExportSection
}

// MarshalJSON writes the export as one object: what it is, when it was made, then the
// sections in their order.
func (x AccountExport) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	head, err := json.Marshal(map[string]any{"format": "puente-account-export", "version": 1,
		"person_id": x.PersonID, "exported_at": x.ExportedAt.UTC()})
	if err != nil {
		return nil, err
	}
	b.Write(head[:len(head)-1])
	for _, s := range x.Sections {
		name, err := json.Marshal(s.Name)
		if err != nil {
			return nil, err
		}
		b.WriteString(",")
		b.Write(name)
		b.WriteString(":")
		b.Write(s.Data)
	}
	b.WriteString("}")
	return []byte(b.String()), nil
}

// exportSection is how one section is read: a query over $1 (the person's id) and $2
// (their address, for what is kept by address). A list section's rows become an array of
// objects named by their columns; a single section's one row becomes an object.
type exportSection struct {
	name   string
	single bool
	query  string
}

// exportSections lists what a person's export holds. Adding a feature that keeps personal
// data is adding a line here (the account test checks each section is present, and that
// deleting the account leaves the person's email, name and affiliation in no column).
// Secrets never appear: no token or link hashes, no personal feed URL, no email bodies
// (a sign-in email's body holds a link).
var exportSections = []exportSection{
	{name: "profile", single: true, query: `SELECT id, email, name, affiliation, country, career_stage, language,
		time_zone, created_at, updated_at FROM people WHERE id = $1`},
	{name: "roles", single: true, query: `SELECT is_admin AS site_admin, is_organiser AS organiser FROM people WHERE id = $1`},
	{name: "organises", query: `SELECT e.id AS event_id, e.kind, e.title, e.slug FROM event_organisers eo
		JOIN events e ON e.id = eo.event_id WHERE eo.person_id = $1 ORDER BY e.id`},
	{name: "api_tokens", query: `SELECT id, name, created_at, last_used_at, revoked_at FROM api_tokens
		WHERE person_id = $1 ORDER BY id`},
	{name: "browser_sessions", query: `SELECT created_at, last_seen_at, expires_at FROM sessions
		WHERE person_id = $1 ORDER BY id`},
	{name: "sign_in_links", query: `SELECT created_at, expires_at, used_at FROM sign_in_links
		WHERE lower(email) = lower($2) ORDER BY id`},
	{name: "registrations", query: `SELECT r.id, r.occurrence_id, e.title AS event, coalesce(nullif(o.title, ''), e.title) AS session,
		o.starts_at, r.status, r.name, r.affiliation, r.country, r.career_stage, r.consent_contact, r.answers,
		r.created_at, r.updated_at
		FROM registrations r JOIN occurrences o ON o.id = r.occurrence_id JOIN events e ON e.id = o.event_id
		WHERE r.person_id = $1 ORDER BY o.starts_at, r.id`},
	{name: "event_registrations", query: `SELECT er.event_id, e.kind, e.title, er.status, er.created_at, er.updated_at
		FROM event_registrations er JOIN events e ON e.id = er.event_id WHERE er.person_id = $1 ORDER BY er.id`},
	{name: "follows", query: `SELECT f.event_id, e.kind, e.title, e.slug, f.created_at FROM follows f
		JOIN events e ON e.id = f.event_id WHERE f.person_id = $1 ORDER BY f.created_at, f.event_id`},
	{name: "topic_follows", query: `SELECT tag, created_at FROM topic_follows WHERE person_id = $1 ORDER BY tag`},
	{name: "chat_messages", query: `SELECT m.occurrence_id, coalesce(nullif(o.title, ''), e.title) AS session, m.author_name,
		m.text, m.created_at FROM live_chat_messages m JOIN occurrences o ON o.id = m.occurrence_id
		JOIN events e ON e.id = o.event_id WHERE m.person_id = $1 ORDER BY m.id`},
	{name: "questions", query: `SELECT q.occurrence_id, coalesce(nullif(o.title, ''), e.title) AS session, q.author_name,
		q.text, q.state, q.votes, q.created_at FROM live_questions q JOIN occurrences o ON o.id = q.occurrence_id
		JOIN events e ON e.id = o.event_id WHERE q.person_id = $1 ORDER BY q.id`},
	{name: "question_votes", query: `SELECT q.occurrence_id, q.text AS question FROM live_question_votes v
		JOIN live_questions q ON q.id = v.question_id WHERE v.person_id = $1 ORDER BY q.id`},
	{name: "live_rooms", query: `SELECT m.occurrence_id, coalesce(nullif(o.title, ''), e.title) AS session, m.role, m.removed,
		m.updated_at FROM live_members m JOIN occurrences o ON o.id = m.occurrence_id JOIN events e ON e.id = o.event_id
		WHERE m.person_id = $1 ORDER BY m.occurrence_id`},
	{name: "attendance", query: `SELECT a.occurrence_id, coalesce(nullif(o.title, ''), e.title) AS session, a.joined_at, a.left_at
		FROM attendance a JOIN occurrences o ON o.id = a.occurrence_id JOIN events e ON e.id = o.event_id
		WHERE a.person_id = $1 ORDER BY a.joined_at, a.id`},
	{name: "weekly_digest", single: true, query: `SELECT weekly_digest AS opted_in FROM people WHERE id = $1`},
	{name: "directory_entry", single: true, query: `SELECT listed, visible, topics, looking_for, bio, orcid, website, updated_at
		FROM directory_entries WHERE person_id = $1`},
	{name: "directory_messages_sent", query: `SELECT created_at FROM directory_contacts WHERE sender_id = $1 ORDER BY id`},
	{name: "follow_news_waiting", query: `SELECT n.occurrence_id, coalesce(nullif(o.title, ''), e.title) AS session, n.what, n.created_at
		FROM follow_news n JOIN occurrences o ON o.id = n.occurrence_id JOIN events e ON e.id = o.event_id
		WHERE n.person_id = $1 ORDER BY n.created_at, n.occurrence_id`},
	{name: "list_optouts", query: `SELECT list_id, created_at FROM list_optouts WHERE person_id = $1 ORDER BY list_id`},
	{name: "personal_feed", single: true, query: `SELECT feed_nonce AS times_renewed,
		(SELECT count(*) FROM follows WHERE person_id = $1) AS events_followed FROM people WHERE id = $1`},
	{name: "speaker_entries", query: `SELECT sp.occurrence_id, e.title AS event, coalesce(nullif(o.title, ''), e.title) AS session,
		o.starts_at, sp.name, sp.affiliation, sp.bio, sp.link, sp.email, sp.photo_id IS NOT NULL AS has_photo
		FROM speakers sp JOIN occurrences o ON o.id = sp.occurrence_id JOIN events e ON e.id = o.event_id
		WHERE sp.person_id = $1 OR (sp.email <> '' AND lower(sp.email) = lower($2)) ORDER BY o.starts_at, sp.id`},
	{name: "emails", query: `SELECT id, CASE WHEN notice_kind <> '' THEN notice_kind ELSE kind END AS kind, subject, list_id,
		status, created_at, sent_at FROM outbox WHERE person_id = $1 OR lower(to_address) = lower($2) ORDER BY id`},
	// The member directory (migration 00021) adds its line here.
}

// ExportAccount reads everything Puente holds about a person (exportSections), in one
// read-only snapshot so the sections agree with each other.
func (s *Store) ExportAccount(ctx context.Context, personID int64) (AccountExport, error) {
	x := AccountExport{PersonID: personID, ExportedAt: s.now()}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var email string
		err := tx.QueryRow(ctx, `SELECT email FROM people WHERE id = $1`, personID).Scan(&email)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("person")
		}
		if err != nil {
			return fmt.Errorf("export: read person: %w", err)
		}
		b := &pgx.Batch{}
		for _, sec := range exportSections {
			// Each section uses $1, $2 or both; both are named (and typed) here so that every
			// query accepts both.
			const both = ` WHERE $1::bigint IS NOT NULL AND $2::text IS NOT NULL`
			q := `SELECT coalesce(jsonb_agg(to_jsonb(x)), '[]'::jsonb) FROM (` + sec.query + `) x` + both
			if sec.single {
				q = `SELECT to_jsonb(x) FROM (` + sec.query + `) x` + both
			}
			b.Queue(q, personID, email)
		}
		res := tx.SendBatch(ctx, b)
		defer res.Close()
		for _, sec := range exportSections {
			var data []byte
			if err := res.QueryRow().Scan(&data); err != nil {
				return fmt.Errorf("export %s: %w", sec.name, err)
			}
			x.Sections = append(x.Sections, ExportSection{Name: sec.name, Data: data})
		}
		return res.Close()
	})
	return x, err
}

// checkDeletable refuses to delete an account that something depends on:
//   - the last site admin (someone must remain able to manage people);
//   - the only organiser of a series or conference that is not cancelled (it would be left
//     with nobody to run it): another organiser must be added, or it must be deleted or
//     cancelled, first. Of a cancelled one, the person simply stops being an organiser;
//   - someone in a live room now: they leave it first (the room keeps its state per
//     member, and would otherwise lose them mid-session).
func checkDeletable(ctx context.Context, q querier, personID int64) error {
	var lastAdmin bool
	err := q.QueryRow(ctx, `SELECT is_admin AND NOT EXISTS (SELECT 1 FROM people WHERE is_admin AND id <> $1)
		FROM people WHERE id = $1`, personID).Scan(&lastAdmin)
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound("person")
	}
	if err != nil {
		return fmt.Errorf("read roles: %w", err)
	}
	if lastAdmin {
		return domain.New(domain.CodeConflict, "err.account.last_admin")
	}
	rows, err := q.Query(ctx, `SELECT e.title FROM event_organisers eo JOIN events e ON e.id = eo.event_id
		WHERE eo.person_id = $1 AND e.cancelled_at IS NULL
		  AND NOT EXISTS (SELECT 1 FROM event_organisers other WHERE other.event_id = e.id AND other.person_id <> $1)
		ORDER BY e.title`, personID)
	if err != nil {
		return fmt.Errorf("events organised alone: %w", err)
	}
	titles, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("events organised alone: %w", err)
	}
	if len(titles) > 0 {
		for i, t := range titles {
			titles[i] = domain.Clip(t)
		}
		return domain.New(domain.CodeConflict, "err.account.sole_organiser", "Titles", strings.Join(titles, "; "))
	}
	var room string
	err = q.QueryRow(ctx, `SELECT coalesce(nullif(o.title, ''), e.title) FROM live_members m
		JOIN occurrences o ON o.id = m.occurrence_id JOIN events e ON e.id = o.event_id
		WHERE m.person_id = $1 AND m.present AND NOT m.removed ORDER BY m.occurrence_id LIMIT 1`, personID).Scan(&room)
	if err == nil {
		return domain.New(domain.CodeConflict, "err.account.in_live_room", "Title", domain.Clip(room))
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("live rooms: %w", err)
	}
	return nil
}

// CheckDeletable reports (as DeleteAccount would refuse) whether a person's account can be
// deleted now, for the confirmation page.
func (s *Store) CheckDeletable(ctx context.Context, personID int64) error {
	return checkDeletable(ctx, s.pool, personID)
}

// DeleteAccount deletes a person's account, in one transaction:
//   - gone: the person; their browser sessions, API tokens, sign-in links, unsubscribe
//     tokens, follows (events and topics), list opt-outs, live-room standing, attendance,
//     question votes (the questions' counts are recounted), chat messages and questions
//     (their words are theirs: kept without a name they would still identify them), their
//     speaker entries (a talk keeps its title and abstract; the entry's photo goes too),
//     every outbox row to them or about them, the bodies of kept copies of emails to others
//     that name them (their address, name or affiliation), and a suppression of their address;
//   - kept, anonymised: their registrations, with no person, name, affiliation, answers or
//     consent, so the places taken and the organisers' counts stay right. A confirmed or
//     held place stays so (a held one is released at its deadline as usual); a place on a
//     waitlist or awaiting approval is withdrawn (nobody is left to promote or approve).
//     Whole-series registrations are kept the same way, without their person.
//
// The checks of checkDeletable run inside the transaction, under the lock that site roles
// change under.
func (s *Store) DeleteAccount(ctx context.Context, personID int64) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('puente.people'))`); err != nil {
			return fmt.Errorf("lock people: %w", err)
		}
		if err := checkDeletable(ctx, tx, personID); err != nil {
			return err
		}
		// Sessions before the person: the same order as registering (a session, then the
		// person's row when the registration is written), so neither waits for the other.
		if _, err := lockOccurrencesOf(ctx, tx, `SELECT DISTINCT occurrence_id FROM registrations WHERE person_id = $1`, personID); err != nil {
			return err
		}
		var email, name, affiliation string
		if err := tx.QueryRow(ctx, `SELECT email, name, affiliation FROM people WHERE id = $1 FOR UPDATE`, personID).Scan(&email, &name, &affiliation); err != nil {
			return fmt.Errorf("lock person: %w", err)
		}
		now := s.now()
		steps := []struct {
			what string
			sql  string
			args []any
		}{
			{"anonymise registrations", `UPDATE registrations SET person_id = NULL, name = '', affiliation = '', answers = '{}',
				consent_contact = false, link_nonce = link_nonce + 1, updated_at = $2,
				status = CASE WHEN status IN ('waitlisted', 'pending') THEN 'cancelled' ELSE status END,
				waitlisted_at = NULL WHERE person_id = $1`, []any{personID, now}},
			{"anonymise whole-series registrations", `UPDATE event_registrations SET person_id = NULL, updated_at = $2
				WHERE person_id = $1`, []any{personID, now}},
			{"delete chat messages", `DELETE FROM live_chat_messages WHERE person_id = $1`, []any{personID}},
			{"recount votes", `UPDATE live_questions q SET votes = (SELECT count(*) FROM live_question_votes v
				WHERE v.question_id = q.id AND v.person_id <> $1)
				WHERE q.id IN (SELECT question_id FROM live_question_votes WHERE person_id = $1)`, []any{personID}},
			{"delete questions", `DELETE FROM live_questions WHERE person_id = $1`, []any{personID}},
			{"delete speaker entries", `WITH gone AS (DELETE FROM speakers WHERE person_id = $1 OR (email <> '' AND lower(email) = lower($2))
				RETURNING occurrence_id, photo_id),
				photos AS (DELETE FROM speaker_photos ph WHERE ph.id IN (SELECT photo_id FROM gone)
				  AND NOT EXISTS (SELECT 1 FROM speakers sp WHERE sp.photo_id = ph.id AND sp.id NOT IN
				      (SELECT id FROM speakers WHERE person_id = $1 OR (email <> '' AND lower(email) = lower($2)))))
				UPDATE occurrences SET sequence = sequence + 1, updated_at = $3 WHERE id IN (SELECT occurrence_id FROM gone)`,
				[]any{personID, email, now}},
			{"delete emails", `DELETE FROM outbox WHERE person_id = $1 OR lower(to_address) = lower($2)`, []any{personID, email}},
			// Messages they wrote to other members through the directory: their words, kept in
			// the recipients' rows.
			{"delete directory messages", `DELETE FROM outbox WHERE notice_kind = 'contact' AND payload->>'sender_id' = $1::bigint::text`, []any{personID}},
			// Copies kept of emails to others that name them (a reminder listing them as a
			// speaker) lose their bodies now, as they would at the end of the retention period.
			{"blank copies that name them", `UPDATE outbox SET ` + blankBodies + `, bodies_dropped_at = $4
				WHERE status <> 'pending' AND bodies_dropped_at IS NULL AND EXISTS (
				  SELECT 1 FROM unnest(ARRAY[lower($1), lower($2), lower($3)]) m
				   WHERE length(m) >= 4 AND strpos(lower(subject || ' ' || text_body || ' ' || html_body || ' ' || ics || ' ' || payload::text), m) > 0)`,
				[]any{email, name, affiliation, now}},
			{"delete sign-in links", `DELETE FROM sign_in_links WHERE lower(email) = lower($1)`, []any{email}},
			{"delete suppression", `DELETE FROM mail_suppressions WHERE email = lower($1)`, []any{email}},
			// The rest goes with the person (ON DELETE CASCADE): sessions, API tokens, follows,
			// question votes, topic follows, list opt-outs and tokens, attendance, live-room
			// members, event organisers (of cancelled events only, checked above); events they
			// created keep no creator (ON DELETE SET NULL).
			{"delete person", `DELETE FROM people WHERE id = $1`, []any{personID}},
		}
		for _, st := range steps {
			if _, err := tx.Exec(ctx, st.sql, st.args...); err != nil {
				return fmt.Errorf("delete account: %s: %w", st.what, err)
			}
		}
		return nil
	})
}
