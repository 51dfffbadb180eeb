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

// eventFieldColumns are an event's own columns (over events e); eventColumns adds its
// organisers, read per row (a listing of many rows aggregates them once per event instead).
const (
	eventFieldColumns = `e.id, e.kind, e.slug, e.title, e.description, e.tags, e.language, e.visibility, e.time_zone,
	e.start_date, to_char(e.start_time, 'HH24:MI'), e.end_date, e.duration_minutes, e.rrule, e.rdates, e.exdates,
	e.capacity, e.registration, e.join_window_minutes, e.venue_name, e.venue_address, e.venue_room, e.sequence,
	e.created_at, e.updated_at, e.reminder_minutes, e.questions`
	eventColumns = eventFieldColumns + `,
	ARRAY(SELECT person_id FROM event_organisers o WHERE o.event_id = e.id ORDER BY person_id)`
)

// eventScan returns the scan destinations of eventColumns into e, and the function that
// completes e once the row is scanned; it lets a row carry other columns around an event.
func eventScan(e *domain.Event) (dest []any, finish func()) {
	var kind string
	var duration, join int
	dest = []any{&e.ID, &kind, &e.Slug, &e.Title, &e.Description, &e.Tags, &e.Language, &e.Visibility, &e.TimeZone,
		&e.StartDate, &e.StartTime, &e.EndDate, &duration, &e.RRule, &e.RDates, &e.ExDates,
		&e.Capacity, &e.Registration, &join, &e.Venue.Name, &e.Venue.Address, &e.Venue.Room, &e.Sequence,
		&e.CreatedAt, &e.UpdatedAt, &e.Reminders, &e.Questions, &e.Organisers}
	return dest, func() {
		e.Kind = domain.EventKind(kind)
		e.Duration = time.Duration(duration) * time.Minute
		e.JoinWindow = time.Duration(join) * time.Minute
	}
}

func scanEvent(row pgx.Row) (domain.Event, error) {
	var e domain.Event
	dest, finish := eventScan(&e)
	err := row.Scan(dest...)
	finish()
	return e, err
}

// querier is what reads need from a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// CreateEvent saves a new series or conference (already validated), makes creator and the
// accounts of organisers (emails; nil for none) its organisers and, for a series,
// generates its occurrences, all in one transaction. A taken slug gets a number appended.
func (s *Store) CreateEvent(ctx context.Context, e domain.Event, creator int64, organisers []string) (domain.Event, error) {
	var id int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		slug, err := freeSlug(ctx, tx, e.Slug, 0)
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `INSERT INTO events (kind, slug, title, description, tags, language, visibility, time_zone,
			start_date, start_time, end_date, duration_minutes, rrule, rdates, exdates, capacity, registration,
			join_window_minutes, venue_name, venue_address, venue_room, created_by, created_at, updated_at, reminder_minutes, questions)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::time, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $23, $24, $25)
			RETURNING id`,
			string(e.Kind), slug, e.Title, e.Description, e.Tags, e.Language, e.Visibility, e.TimeZone,
			e.StartDate, e.StartTime, e.EndDate, int(e.Duration/time.Minute), e.RRule, nonNil(e.RDates), nonNil(e.ExDates),
			e.Capacity, e.Registration, int(e.JoinWindow/time.Minute), e.Venue.Name, e.Venue.Address, e.Venue.Room,
			creator, s.now(), reminders(e.Reminders), questions(e.Questions)).Scan(&id)
		if err != nil {
			return fmt.Errorf("insert event: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO event_organisers (event_id, person_id) VALUES ($1, $2)`, id, creator); err != nil {
			return fmt.Errorf("add organiser: %w", err)
		}
		if organisers != nil {
			var email string
			if err := tx.QueryRow(ctx, `SELECT email FROM people WHERE id = $1`, creator).Scan(&email); err != nil {
				return fmt.Errorf("read creator: %w", err)
			}
			if err := setOrganisers(ctx, tx, id, append(organisers, email)); err != nil {
				return err
			}
		}
		if e, err = eventInTx(ctx, tx, id, false); err != nil {
			return err
		}
		if e.Kind == domain.KindSeries {
			if err := s.regenerate(ctx, tx, e, nil); err != nil {
				return err
			}
		}
		// A new public event is news to the followers of its topics.
		var talks []int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(array_agg(id), '{}') FROM occurrences WHERE event_id = $1`, id).Scan(&talks); err != nil {
			return fmt.Errorf("read new talks: %w", err)
		}
		return s.recordNews(ctx, tx, newsTalk, talks...)
	})
	if err != nil {
		return domain.Event{}, err
	}
	return s.EventByID(ctx, id)
}

func questions(q []domain.Question) []domain.Question {
	if q == nil {
		return []domain.Question{}
	}
	return q
}

// reminders defaults to a day and an hour before.
func reminders(r []int) []int {
	if r == nil {
		return []int{1440, 60}
	}
	return r
}

func nonNil(ts []time.Time) []time.Time {
	if ts == nil {
		return []time.Time{}
	}
	return ts
}

// freeSlug returns slug, or slug-2, slug-3 … if taken (by another event than except).
func freeSlug(ctx context.Context, tx pgx.Tx, slug string, except int64) (string, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('puente.slug'))`); err != nil {
		return "", fmt.Errorf("lock slugs: %w", err)
	}
	candidate := slug
	for n := 2; n < 1000; n++ {
		var taken bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM events WHERE slug = $1 AND id <> $2)`, candidate, except).Scan(&taken); err != nil {
			return "", fmt.Errorf("check slug: %w", err)
		}
		if !taken {
			return candidate, nil
		}
		candidate = slug + "-" + strconv.Itoa(n)
	}
	return "", domain.Invalid("slug", "err.slug.taken")
}

// eventInTx reads an event, locked for update if lock (which needs a transaction).
func eventInTx(ctx context.Context, q querier, id int64, lock bool) (domain.Event, error) {
	sql := `SELECT ` + eventColumns + ` FROM events e WHERE e.id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	e, err := scanEvent(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return e, notFound("series or conference")
	}
	if err != nil {
		return e, fmt.Errorf("read event %d: %w", id, err)
	}
	return e, nil
}

// EventByID returns one series or conference.
func (s *Store) EventByID(ctx context.Context, id int64) (domain.Event, error) {
	return eventInTx(ctx, s.pool, id, false)
}

// EventBySlug returns the series or conference at that address.
func (s *Store) EventBySlug(ctx context.Context, slug string) (domain.Event, error) {
	e, err := scanEvent(s.pool.QueryRow(ctx, `SELECT `+eventColumns+` FROM events e WHERE e.slug = $1`, slug))
	if errors.Is(err, pgx.ErrNoRows) {
		return e, notFound("series or conference")
	}
	if err != nil {
		return e, fmt.Errorf("read event %q: %w", slug, err)
	}
	return e, nil
}

// UpdateEvent changes an event atomically: mutate sees the current row (locked), may refuse
// with an error, and the result is saved, the organisers replaced (unless organisers is
// nil) and, for a series, its future occurrences regenerated, all in one transaction.
func (s *Store) UpdateEvent(ctx context.Context, id int64, organisers []string, mutate func(*domain.Event) error, notify *Notify) (domain.Event, error) {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		e, err := eventInTx(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if err := refuseCancelled(ctx, tx, id); err != nil {
			return err
		}
		// Every occurrence the change may touch is locked now, before any of them is
		// written, so the locks are taken in the one ascending order.
		if _, err := s.lockEventOccurrences(ctx, tx, e); err != nil {
			return err
		}
		before := e
		zone := e.TimeZone
		if err := mutate(&e); err != nil {
			return err
		}
		if e.TimeZone != zone {
			if err := s.checkOwnTimesInZone(ctx, tx, e); err != nil {
				return err
			}
		}
		if organisers != nil {
			if err := setOrganisers(ctx, tx, id, organisers); err != nil {
				return err
			}
		}
		slug, err := freeSlug(ctx, tx, e.Slug, id)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE events SET slug = $2, title = $3, description = $4, tags = $5, language = $6,
			visibility = $7, time_zone = $8, start_date = $9, start_time = $10::time, end_date = $11, duration_minutes = $12,
			rrule = $13, rdates = $14, exdates = $15, capacity = $16, registration = $17, join_window_minutes = $18,
			venue_name = $19, venue_address = $20, venue_room = $21, sequence = sequence + 1, updated_at = $22,
			reminder_minutes = $23, questions = $24
			WHERE id = $1`, id, slug, e.Title, e.Description, e.Tags, e.Language, e.Visibility, e.TimeZone,
			e.StartDate, e.StartTime, e.EndDate, int(e.Duration/time.Minute), e.RRule, nonNil(e.RDates), nonNil(e.ExDates),
			e.Capacity, e.Registration, int(e.JoinWindow/time.Minute), e.Venue.Name, e.Venue.Address, e.Venue.Room, s.now(),
			reminders(e.Reminders), questions(e.Questions))
		if err != nil {
			return fmt.Errorf("update event: %w", err)
		}
		if e, err = eventInTx(ctx, tx, id, false); err != nil {
			return err
		}
		if e.Kind == domain.KindSeries {
			// Talks the new rule adds are news to the followers (those it keeps are not).
			var last int64
			if err := tx.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM occurrences WHERE event_id = $1`, id).Scan(&last); err != nil {
				return fmt.Errorf("read talks: %w", err)
			}
			if err = s.regenerate(ctx, tx, e, notify); err != nil {
				return err
			}
			var added []int64
			if err := tx.QueryRow(ctx, `SELECT coalesce(array_agg(id), '{}') FROM occurrences WHERE event_id = $1 AND id > $2`,
				id, last).Scan(&added); err != nil {
				return fmt.Errorf("read new talks: %w", err)
			}
			err = s.recordNews(ctx, tx, newsTalk, added...)
		} else {
			err = s.reanchorSessions(ctx, tx, e)
		}
		if err != nil {
			return err
		}
		if before.Capacity != 0 && (e.Capacity == 0 || e.Capacity > before.Capacity) {
			// More room: the first people waiting get the new places, in this same
			// transaction, so nobody registering meanwhile can jump the waitlist.
			ids, err := s.lockEventOccurrences(ctx, tx, e)
			if err != nil {
				return err
			}
			for _, occID := range ids {
				if _, err := s.promote(ctx, tx, occID, notify); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return domain.Event{}, err
	}
	return s.EventByID(ctx, id)
}

// DeleteEvent deletes a series or conference that never had a registration. One that has
// or had registrations is cancelled instead (cancelled is then true): its sessions still
// to come are cancelled and everyone registered for them is told (notify, kind
// "cancelled"), registration closes, and its history (registrations, attendance, chat,
// questions) stays. Deleting a cancelled event again changes nothing.
func (s *Store) DeleteEvent(ctx context.Context, id int64, notify *Notify) (cancelled bool, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		e, err := eventInTx(ctx, tx, id, true)
		if err != nil {
			return err
		}
		var had, already bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM registrations r JOIN occurrences o ON o.id = r.occurrence_id
			WHERE o.event_id = $1) OR EXISTS (SELECT 1 FROM event_registrations WHERE event_id = $1),
			(SELECT cancelled_at IS NOT NULL FROM events WHERE id = $1)`, id).Scan(&had, &already); err != nil {
			return fmt.Errorf("registrations of event: %w", err)
		}
		if !had {
			if _, err := tx.Exec(ctx, `DELETE FROM events WHERE id = $1`, id); err != nil {
				return fmt.Errorf("delete event: %w", err)
			}
			return nil
		}
		cancelled = true
		if already {
			return nil
		}
		if _, err := s.lockEventOccurrences(ctx, tx, e); err != nil {
			return err
		}
		now := s.now()
		rows, err := tx.Query(ctx, `UPDATE occurrences SET status = 'cancelled', sequence = sequence + 1, updated_at = $2
			WHERE event_id = $1 AND status = 'scheduled' AND starts_at > $2 RETURNING id`, id, now)
		if err != nil {
			return fmt.Errorf("cancel occurrences: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("cancel occurrences: %w", err)
		}
		slices.Sort(ids)
		for _, occID := range ids {
			if _, err := s.notifyAll(ctx, tx, notify, domain.NoticeCancelled, occID, domain.NoticePayload{}); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE events SET cancelled_at = $2, registration = 'closed', sequence = sequence + 1,
			updated_at = $2 WHERE id = $1`, id, now); err != nil {
			return fmt.Errorf("cancel event: %w", err)
		}
		return nil
	})
	return cancelled, err
}

// refuseCancelled refuses a change to a cancelled series or conference (it keeps its
// history, but takes no new sessions or edits).
func refuseCancelled(ctx context.Context, tx pgx.Tx, id int64) error {
	var cancelled bool
	if err := tx.QueryRow(ctx, `SELECT cancelled_at IS NOT NULL FROM events WHERE id = $1`, id).Scan(&cancelled); err != nil {
		return fmt.Errorf("read event: %w", err)
	}
	if cancelled {
		return domain.New(domain.CodeConflict, "err.event.cancelled")
	}
	return nil
}

// lockEventOccurrences locks the occurrences of an event that a change of the event may
// touch (a series' current and future ones; all of a conference's sessions, which follow
// its zone) and returns their ids in ascending order.
func (s *Store) lockEventOccurrences(ctx context.Context, tx pgx.Tx, e domain.Event) ([]int64, error) {
	since := s.now()
	if e.Kind == domain.KindConference {
		since = time.Time{}
	}
	return lockOccurrencesOf(ctx, tx, `SELECT id FROM occurrences WHERE event_id = $1 AND ends_at >= $2 ORDER BY id`, e.ID, since)
}

// IsOrganiser reports whether person organises the event.
func (s *Store) IsOrganiser(ctx context.Context, eventID, personID int64) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM event_organisers WHERE event_id = $1 AND person_id = $2)`,
		eventID, personID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check organiser: %w", err)
	}
	return ok, nil
}

// setOrganisers replaces an event's organisers with the accounts of these addresses. Every
// address must have an account, and there must be at least one organiser.
func setOrganisers(ctx context.Context, tx pgx.Tx, eventID int64, emails []string) error {
	var ids []int64
	for _, email := range emails {
		email = strings.TrimSpace(email)
		if email == "" {
			continue
		}
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM people WHERE lower(email) = lower($1)`, email).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return domain.Invalid("organisers", "err.organisers.no_account", "Email", domain.Clip(email))
		}
		if err != nil {
			return fmt.Errorf("find organiser: %w", err)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return domain.Invalid("organisers", "err.organisers.none")
	}
	if _, err := tx.Exec(ctx, `DELETE FROM event_organisers WHERE event_id = $1 AND NOT (person_id = ANY($2))`, eventID, ids); err != nil {
		return fmt.Errorf("remove organisers: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO event_organisers (event_id, person_id) SELECT $1, unnest($2::bigint[])
		ON CONFLICT DO NOTHING`, eventID, ids); err != nil {
		return fmt.Errorf("add organisers: %w", err)
	}
	return nil
}

// OrganiserEmails lists the addresses of an event's organisers.
func (s *Store) OrganiserEmails(ctx context.Context, eventID int64) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT p.email FROM event_organisers o JOIN people p ON p.id = o.person_id
		WHERE o.event_id = $1 ORDER BY p.email`, eventID)
	if err != nil {
		return nil, fmt.Errorf("list organisers: %w", err)
	}
	emails, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list organisers: %w", err)
	}
	return emails, nil
}

// EventFilter selects events for listings.
type EventFilter struct {
	Kind            domain.EventKind // "" = both
	Tag             string
	Language        string
	Query           string // words each result has in its title, description or topics, accents and case aside
	OrganiserID     int64  // >0: only events this person organises (unlisted included)
	IncludeUnlisted bool
	Limit, Offset   int
}

// ListEvents lists events, newest first.
func (s *Store) ListEvents(ctx context.Context, f EventFilter) ([]domain.Event, int, error) {
	where, args := []string{"true"}, []any{}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.Kind != "" {
		add("e.kind = ?", string(f.Kind))
	}
	if f.Tag != "" {
		add(tagCondition, f.Tag)
	}
	if f.Language != "" {
		add("e.language = ?", f.Language)
	}
	if words := searchWords(f.Query); len(words) > 0 {
		add(searchCondition(`concat_ws(' ', e.title, e.description, array_to_string(e.tags, ' '))`), words)
	}
	if f.OrganiserID > 0 {
		add("EXISTS (SELECT 1 FROM event_organisers o WHERE o.event_id = e.id AND o.person_id = ?)", f.OrganiserID)
	} else if !f.IncludeUnlisted {
		where = append(where, "e.visibility = 'public'")
	}
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	args = append(args, f.Limit, f.Offset)
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+`, count(*) OVER () FROM events e WHERE `+strings.Join(where, " AND ")+
		` ORDER BY e.id DESC LIMIT $`+strconv.Itoa(len(args)-1)+` OFFSET $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	var out []domain.Event
	total := 0
	for rows.Next() {
		var e domain.Event
		dest, finish := eventScan(&e)
		if err := rows.Scan(append(dest, &total)...); err != nil {
			return nil, 0, fmt.Errorf("list events: %w", err)
		}
		finish()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list events: %w", err)
	}
	return out, total, nil
}

// Topics lists the topic tags of public events, each once (whatever its case or accents:
// the spelling most events use wins), in alphabetical order of their folded form.
func (s *Store) Topics(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT ON (puente_fold(t)) t FROM (
			SELECT t, count(*) OVER (PARTITION BY t) AS n FROM events e, unnest(e.tags) t WHERE e.visibility = 'public') used
		ORDER BY puente_fold(t), n DESC, t`)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	topics, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	return topics, nil
}
