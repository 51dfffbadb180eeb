package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/puente-org/puente/domain"
	"github.com/puente-org/puente/programme"
)

// HorizonMonths is how far ahead a series' occurrences exist as rows. ExtendHorizons
// moves the horizon forward as time passes.
const HorizonMonths = 12

// RuleOf is an event's schedule as a recurrence rule.
func RuleOf(e domain.Event) programme.Rule { return programme.RuleOf(e) }

type existingOcc struct {
	id       int64
	original time.Time
	start    time.Time
	duration int
	moved    bool
	matched  bool
}

// regenerate brings a series' future occurrences in line with its rule: occurrences the
// rule still yields keep their row (and so their registrations, speakers and overrides),
// matched first by their exact original time and then by their local date (so changing the
// series' time moves the same talks); new ones are added; ones the rule no longer yields
// are removed. Past occurrences are never touched.
func (s *Store) regenerate(ctx context.Context, tx pgx.Tx, e domain.Event, notify *Notify) error {
	now := s.now()
	rule := RuleOf(e)
	loc, err := rule.Location()
	if err != nil {
		return err
	}
	horizon := now.AddDate(0, HorizonMonths, 0)
	instances, err := rule.Expand(now, horizon, 0)
	if err != nil {
		return err
	}
	ids, err := lockOccurrencesOf(ctx, tx, `SELECT id FROM occurrences WHERE event_id = $1 AND origin = 'generated' AND starts_at >= $2`, e.ID, now)
	if err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `SELECT id, original_start, start_local, duration_minutes, moved FROM occurrences
		WHERE id = ANY($1) ORDER BY original_start`, ids)
	if err != nil {
		return fmt.Errorf("read occurrences: %w", err)
	}
	var existing []*existingOcc
	for rows.Next() {
		o := &existingOcc{}
		if err := rows.Scan(&o.id, &o.original, &o.start, &o.duration, &o.moved); err != nil {
			rows.Close()
			return fmt.Errorf("read occurrences: %w", err)
		}
		existing = append(existing, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read occurrences: %w", err)
	}
	byExact := map[time.Time]*existingOcc{}
	byDate := map[string][]*existingOcc{}
	for _, o := range existing {
		byExact[o.original] = o
		d := o.original.Format(time.DateOnly)
		byDate[d] = append(byDate[d], o)
	}
	// Earlier rows that are not future (past, or in progress) must not be duplicated.
	var pastOriginals []time.Time
	if err := tx.QueryRow(ctx, `SELECT coalesce(array_agg(original_start), '{}') FROM occurrences
		WHERE event_id = $1 AND origin = 'generated' AND starts_at < $2`, e.ID, now).Scan(&pastOriginals); err != nil {
		return fmt.Errorf("read past occurrences: %w", err)
	}
	past := map[time.Time]bool{}
	for _, t := range pastOriginals {
		past[t] = true
	}
	minutes := int(e.Duration / time.Minute)
	var unmatched []programme.Instance
	for _, in := range instances {
		if o := byExact[in.Wall]; o != nil && !o.matched {
			o.matched = true
			if err := s.keepOccurrence(ctx, tx, o, in, minutes, loc, notify); err != nil {
				return err
			}
			continue
		}
		unmatched = append(unmatched, in)
	}
	for _, in := range unmatched {
		if past[in.Wall] {
			continue
		}
		var reuse *existingOcc
		for _, o := range byDate[in.Wall.Format(time.DateOnly)] {
			if !o.matched {
				reuse = o
				break
			}
		}
		if reuse != nil {
			reuse.matched = true
			if err := s.keepOccurrence(ctx, tx, reuse, in, minutes, loc, notify); err != nil {
				return err
			}
			continue
		}
		var newID int64
		if err := tx.QueryRow(ctx, `INSERT INTO occurrences (event_id, origin, original_start, start_local, duration_minutes,
			starts_at, ends_at, created_at, updated_at) VALUES ($1, 'generated', $2, $2, $3, $4, $5, $6, $6) RETURNING id`,
			e.ID, in.Wall, minutes, in.Start, in.End, now).Scan(&newID); err != nil {
			return fmt.Errorf("add occurrence: %w", err)
		}
		if err := s.registerEventRegistrants(ctx, tx, e.ID, newID); err != nil {
			return err
		}
	}
	var removed []int64
	for _, o := range existing {
		if !o.matched {
			removed = append(removed, o.id)
		}
	}
	if len(removed) > 0 {
		// Registrants of removed occurrences are told, in the same transaction.
		for _, id := range removed {
			frozen, err := removedPayload(ctx, tx, id)
			if err != nil {
				return err
			}
			if _, err := s.notifyAll(ctx, tx, notify, domain.NoticeRemoved, id, frozen); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM occurrences WHERE id = ANY($1)`, removed); err != nil {
			return fmt.Errorf("remove occurrences: %w", err)
		}
	}
	if err := refreshInstants(ctx, tx, e.ID, loc, now, `origin <> 'generated'`); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE events SET generated_until = $2 WHERE id = $1`, e.ID, horizon.In(loc).Format(time.DateOnly))
	if err != nil {
		return fmt.Errorf("record horizon: %w", err)
	}
	return nil
}

// keepOccurrence updates a kept row to the rule's current instance. A moved occurrence
// keeps its own time; others follow the rule (time and duration).
func (s *Store) keepOccurrence(ctx context.Context, tx pgx.Tx, o *existingOcc, in programme.Instance, minutes int, loc *time.Location, notify *Notify) error {
	start, dur, startAt, endAt := in.Wall, minutes, in.Start, in.End
	if o.moved {
		start, dur = o.start, o.duration
		startAt = programme.ResolveLenient(loc, start)
		endAt = startAt.Add(time.Duration(dur) * time.Minute)
	}
	changed := !o.original.Equal(in.Wall) || !o.start.Equal(start) || o.duration != dur
	_, err := tx.Exec(ctx, `UPDATE occurrences SET original_start = $2, start_local = $3, duration_minutes = $4,
		starts_at = $5, ends_at = $6, sequence = sequence + $7::int, updated_at = CASE WHEN $7::int > 0 THEN $8 ELSE updated_at END
		WHERE id = $1`, o.id, in.Wall, start, dur, startAt, endAt, boolInt(changed), s.now())
	if err != nil {
		return fmt.Errorf("update occurrence: %w", err)
	}
	if !o.start.Equal(start) || o.duration != dur {
		was := programme.ResolveLenient(loc, o.start)
		_, err := s.notifyAll(ctx, tx, notify, domain.NoticeMoved, o.id, domain.NoticePayload{PreviousStart: &was})
		return err
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// refreshInstants recomputes starts_at/ends_at of future rows matching cond from their wall
// time, so a change of zone or of tz data is reflected.
func refreshInstants(ctx context.Context, tx pgx.Tx, eventID int64, loc *time.Location, now time.Time, cond string) error {
	rows, err := tx.Query(ctx, `SELECT id, start_local, duration_minutes FROM occurrences
		WHERE event_id = $1 AND ends_at >= $2 AND `+cond, eventID, now)
	if err != nil {
		return fmt.Errorf("read occurrences: %w", err)
	}
	type upd struct {
		id         int64
		start, end time.Time
	}
	var ups []upd
	for rows.Next() {
		var id int64
		var wall time.Time
		var dur int
		if err := rows.Scan(&id, &wall, &dur); err != nil {
			rows.Close()
			return fmt.Errorf("read occurrences: %w", err)
		}
		st := programme.ResolveLenient(loc, wall)
		ups = append(ups, upd{id, st, st.Add(time.Duration(dur) * time.Minute)})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read occurrences: %w", err)
	}
	for _, u := range ups {
		if _, err := tx.Exec(ctx, `UPDATE occurrences SET starts_at = $2, ends_at = $3 WHERE id = $1 AND (starts_at <> $2 OR ends_at <> $3)`,
			u.id, u.start, u.end); err != nil {
			return fmt.Errorf("refresh occurrence: %w", err)
		}
	}
	return nil
}

// reanchorSessions recomputes a conference's session instants (its zone may have changed).
func (s *Store) reanchorSessions(ctx context.Context, tx pgx.Tx, e domain.Event) error {
	loc, err := time.LoadLocation(e.TimeZone)
	if err != nil {
		return domain.Invalid("timezone", "err.timezone.choose")
	}
	return refreshInstants(ctx, tx, e.ID, loc, time.Time{}, `true`)
}

// HorizonFailure is an event that ExtendHorizons could not refresh, and why.
type HorizonFailure struct {
	EventID int64
	Err     error
}

func (f HorizonFailure) Error() string { return fmt.Sprintf("refresh event %d: %v", f.EventID, f.Err) }
func (f HorizonFailure) Unwrap() error { return f.Err }

// ExtendHorizons regenerates every series whose occurrences end within a week of the
// horizon, so a series always has rows for the next HorizonMonths; with all, every series
// and conference is refreshed (at start-up, so that new time-zone data in a new binary
// corrects stored instants). Cancelled events are left alone. One event failing (its
// rule or zone no longer valid, say) does not stop the others: it returns how many events
// it refreshed and the ones that failed; err is set only when the work could not be done
// at all (the database or ctx).
func (s *Store) ExtendHorizons(ctx context.Context, all bool) (refreshed int, failed []HorizonFailure, err error) {
	limit := s.now().AddDate(0, HorizonMonths, -7)
	rows, err := s.pool.Query(ctx, `SELECT id FROM events WHERE cancelled_at IS NULL AND ($2
		OR (kind = 'series' AND (generated_until IS NULL OR generated_until < $1))) ORDER BY id`, limit.Format(time.DateOnly), all)
	if err != nil {
		return 0, nil, fmt.Errorf("series to extend: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, nil, fmt.Errorf("series to extend: %w", err)
	}
	for _, id := range ids {
		err := s.inTx(ctx, func(tx pgx.Tx) error {
			e, err := eventInTx(ctx, tx, id, true)
			if err != nil {
				return err
			}
			if _, err := s.lockEventOccurrences(ctx, tx, e); err != nil {
				return err
			}
			if e.Kind == domain.KindConference {
				return s.reanchorSessions(ctx, tx, e)
			}
			return s.regenerate(ctx, tx, e, nil)
		})
		if ctx.Err() != nil {
			return refreshed, failed, ctx.Err()
		}
		if err != nil {
			failed = append(failed, HorizonFailure{EventID: id, Err: err})
			continue
		}
		refreshed++
	}
	return refreshed, failed, nil
}

const occurrenceColumns = `o.id, o.event_id, o.origin, o.original_start, o.start_local, o.duration_minutes, o.starts_at,
	o.ends_at, o.moved, o.title, o.abstract, o.track_id, o.status, o.cancel_reason, o.sequence, o.updated_at`

func scanOccurrence(row pgx.Row, extra ...any) (domain.Occurrence, error) {
	var o domain.Occurrence
	var dur int
	dest := []any{&o.ID, &o.EventID, &o.Origin, &o.OriginalStart, &o.StartLocal, &dur, &o.Start, &o.End,
		&o.Moved, &o.Title, &o.Abstract, &o.TrackID, &o.Status, &o.CancelReason, &o.Sequence, &o.UpdatedAt}
	err := row.Scan(append(dest, extra...)...)
	o.Duration = time.Duration(dur) * time.Minute
	return o, err
}

// Listed is an occurrence with the event it belongs to, for listings.
type Listed struct {
	Occurrence domain.Occurrence
	Event      domain.Event
}

// OccurrenceFilter selects occurrences.
type OccurrenceFilter struct {
	EventID          int64
	EventIDs         []int64   // only occurrences of these events
	IDs              []int64   // only these occurrences
	From, To         time.Time // instants; zero means open
	Tag, Language    string
	Query            string // words each result contains, accents and case aside
	Format           string // domain.FormatOnline, domain.FormatInPerson, or "" for both
	Kind             domain.EventKind
	PublicOnly       bool
	IncludeCancelled bool
	EndedBy          time.Time // only those that ended by then (past talks); zero means any
	Newest           bool      // latest first (past talks), else soonest first
	Offset           int       // rows to skip, for pages of a listing
	Limit            int
}

// where turns a filter into SQL conditions (over occurrences o joined with events e) and
// their arguments; Occurrences and OccurrenceStamp share it so they always agree.
func (f OccurrenceFilter) where() (string, []any) {
	where, args := []string{"true"}, []any{}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.EventID > 0 {
		add("o.event_id = ?", f.EventID)
	}
	if f.IDs != nil && f.EventIDs != nil { // either of the two sets (a personal feed)
		args = append(args, f.IDs, f.EventIDs)
		where = append(where, "(o.id = ANY($"+strconv.Itoa(len(args)-1)+") OR o.event_id = ANY($"+strconv.Itoa(len(args))+"))")
	} else if f.IDs != nil {
		add("o.id = ANY(?)", f.IDs)
	} else if f.EventIDs != nil {
		add("o.event_id = ANY(?)", f.EventIDs)
	}
	if !f.From.IsZero() {
		add("o.ends_at > ?", f.From)
	}
	if !f.To.IsZero() {
		add("o.starts_at < ?", f.To)
	}
	if !f.EndedBy.IsZero() {
		add("o.ends_at <= ?", f.EndedBy)
	}
	if f.Tag != "" {
		add(tagCondition, f.Tag)
	}
	if f.Language != "" {
		add("e.language = ?", f.Language)
	}
	if f.Kind != "" {
		add("e.kind = ?", string(f.Kind))
	}
	switch f.Format {
	case domain.FormatOnline:
		where = append(where, onlineOnly)
	case domain.FormatInPerson:
		where = append(where, "NOT "+onlineOnly)
	}
	if words := searchWords(f.Query); len(words) > 0 {
		// The talk's own title and abstract, its series or conference, its topics and its
		// speakers with their affiliations.
		add(searchCondition(`concat_ws(' ', e.title, o.title, o.abstract, array_to_string(e.tags, ' '),
			(SELECT string_agg(sp.name || ' ' || sp.affiliation, ' ') FROM speakers sp WHERE sp.occurrence_id = o.id))`), words)
	}
	if f.PublicOnly {
		where = append(where, "e.visibility = 'public'")
	}
	if !f.IncludeCancelled {
		where = append(where, "o.status = 'scheduled'")
	}
	return strings.Join(where, " AND "), args
}

// OccurrenceStamp is a digest of everything about the filtered occurrences and their events
// that a calendar feed shows: it changes whenever one of them is edited (the sequences),
// moved (the instants), added or removed. PostgreSQL computes it, so revalidating a feed
// costs one aggregate query instead of loading every row.
// The second result is the newest change among them (for Last-Modified).
func (s *Store) OccurrenceStamp(ctx context.Context, f OccurrenceFilter) (string, time.Time, error) {
	where, args := f.where()
	var stamp string
	var modified *time.Time
	err := s.pool.QueryRow(ctx, `SELECT coalesce(md5(string_agg(
			o.id || ':' || o.sequence || ':' || o.status || ':' || extract(epoch FROM o.starts_at) || ':' ||
			extract(epoch FROM o.ends_at) || ':' || e.id || ':' || e.sequence || ':' || extract(epoch FROM e.updated_at),
			',' ORDER BY o.id)), 'none') || ':' || count(*), greatest(max(o.updated_at), max(e.updated_at))
		FROM occurrences o JOIN events e ON e.id = o.event_id WHERE `+where, args...).Scan(&stamp, &modified)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("occurrence stamp: %w", err)
	}
	if modified == nil {
		return stamp, time.Time{}, nil
	}
	return stamp, *modified, nil
}

// Occurrences lists occurrences in start order, with their speakers and events.
func (s *Store) Occurrences(ctx context.Context, f OccurrenceFilter) ([]Listed, error) {
	whereSQL, args := f.where()
	switch {
	case f.Limit <= 0:
		f.Limit = 200
	case f.Limit > 50000: // feeds of the whole programme ask for many
		f.Limit = 50000
	}
	order := "o.starts_at, o.id"
	if f.Newest {
		order = "o.starts_at DESC, o.id DESC"
	}
	args = append(args, max(f.Offset, 0), f.Limit)
	// Organisers are aggregated once per event, not once per occurrence row.
	rows, err := s.pool.Query(ctx, `SELECT `+occurrenceColumns+`, `+eventFieldColumns+`, coalesce(org.ids, '{}')
		FROM occurrences o JOIN events e ON e.id = o.event_id
		LEFT JOIN (SELECT event_id, array_agg(person_id ORDER BY person_id) AS ids FROM event_organisers GROUP BY event_id) org
		ON org.event_id = e.id
		WHERE `+whereSQL+` ORDER BY `+order+` OFFSET $`+strconv.Itoa(len(args)-1)+` LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("list occurrences: %w", err)
	}
	defer rows.Close()
	var out []Listed
	for rows.Next() {
		var l Listed
		dest, finish := eventScan(&l.Event)
		o, err := scanOccurrence(rows, dest...)
		if err != nil {
			return nil, fmt.Errorf("list occurrences: %w", err)
		}
		finish()
		l.Occurrence = o
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list occurrences: %w", err)
	}
	rows.Close()
	ids := make([]int64, len(out))
	for i := range out {
		ids[i] = out[i].Occurrence.ID
	}
	speakers, err := s.speakersOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Occurrence.Speakers = speakers[out[i].Occurrence.ID]
	}
	return out, nil
}

func (s *Store) speakersOf(ctx context.Context, ids []int64) (map[int64][]domain.Speaker, error) {
	out := map[int64][]domain.Speaker{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT occurrence_id, `+speakerColumns+` FROM speakers sp
		WHERE occurrence_id = ANY($1) ORDER BY occurrence_id, position`, ids)
	if err != nil {
		return nil, fmt.Errorf("read speakers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var sp domain.Speaker
		if err := rows.Scan(&id, &sp.Name, &sp.Affiliation, &sp.Bio, &sp.Link, &sp.Email, &sp.PersonID, &sp.PhotoID, &sp.PhotoKey); err != nil {
			return nil, fmt.Errorf("read speakers: %w", err)
		}
		out[id] = append(out[id], sp)
	}
	return out, rows.Err()
}

// speakerColumns reads a speaker (table alias sp). The account is the one saved with the
// speaker or, for an email that had no account then, the account its owner has made since
// (so a speaker is linked as soon as they sign in for the first time).
const speakerColumns = `sp.name, sp.affiliation, sp.bio, sp.link, sp.email,
	COALESCE(sp.person_id, (SELECT p.id FROM people p WHERE sp.email <> '' AND lower(p.email) = lower(sp.email))),
	coalesce(sp.photo_id, 0), coalesce((SELECT ph.key FROM speaker_photos ph WHERE ph.id = sp.photo_id), '')`

// speakersInTx reads one occurrence's speakers, in order, inside a transaction.
func speakersInTx(ctx context.Context, tx pgx.Tx, occID int64) ([]domain.Speaker, error) {
	rows, err := tx.Query(ctx, `SELECT `+speakerColumns+` FROM speakers sp WHERE occurrence_id = $1 ORDER BY position`, occID)
	if err != nil {
		return nil, fmt.Errorf("read speakers: %w", err)
	}
	sp, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.Speaker, error) {
		var sp domain.Speaker
		err := r.Scan(&sp.Name, &sp.Affiliation, &sp.Bio, &sp.Link, &sp.Email, &sp.PersonID, &sp.PhotoID, &sp.PhotoKey)
		return sp, err
	})
	if err != nil {
		return nil, fmt.Errorf("read speakers: %w", err)
	}
	return sp, nil
}

// OccurrenceByID returns an occurrence with its speakers and event.
func (s *Store) OccurrenceByID(ctx context.Context, id int64) (Listed, error) {
	var l Listed
	dest, finish := eventScan(&l.Event)
	o, err := scanOccurrence(s.pool.QueryRow(ctx, `SELECT `+occurrenceColumns+`, `+eventColumns+`
		FROM occurrences o JOIN events e ON e.id = o.event_id WHERE o.id = $1`, id), dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return Listed{}, notFound("occurrence")
	}
	if err != nil {
		return Listed{}, fmt.Errorf("read occurrence %d: %w", id, err)
	}
	finish()
	sp, err := s.speakersOf(ctx, []int64{id})
	if err != nil {
		return Listed{}, err
	}
	o.Speakers = sp[id]
	l.Occurrence = o
	return l, nil
}

// UpdateOccurrence changes one occurrence atomically: mutate sees it (locked) with its
// event and may refuse; the new wall time is checked against the zone's gaps and overlaps;
// speakers are replaced; the sequence (for calendars) grows.
func (s *Store) UpdateOccurrence(ctx context.Context, id int64, mutate func(e domain.Event, o *domain.Occurrence) error, notify *Notify) (Listed, error) {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := lockOccurrence(ctx, tx, id); err != nil {
			return err
		}
		o, err := scanOccurrence(tx.QueryRow(ctx, `SELECT `+occurrenceColumns+` FROM occurrences o WHERE o.id = $1`, id))
		if err != nil {
			return fmt.Errorf("read occurrence: %w", err)
		}
		e, err := eventInTx(ctx, tx, o.EventID, false)
		if err != nil {
			return err
		}
		if o.Speakers, err = speakersInTx(ctx, tx, id); err != nil {
			return err
		}
		before := o
		if err := mutate(e, &o); err != nil {
			return err
		}
		if err := saveOccurrence(ctx, tx, e, &o, s.now()); err != nil {
			return err
		}
		if err := s.notifySpeakers(ctx, tx, notify, o, before.Speakers); err != nil {
			return err
		}
		if newSpeakers(before.Speakers, o.Speakers) {
			if err := s.recordNews(ctx, tx, newsSpeakers, id); err != nil {
				return err
			}
		}
		switch {
		case o.Status == domain.StatusCancelled && before.Status != domain.StatusCancelled:
			_, err := s.notifyAll(ctx, tx, notify, domain.NoticeCancelled, id, domain.NoticePayload{CancelReason: o.CancelReason})
			return err
		case o.Status == domain.StatusScheduled && (!o.StartLocal.Equal(before.StartLocal) || o.Duration != before.Duration):
			was := before.Start
			_, err := s.notifyAll(ctx, tx, notify, domain.NoticeMoved, id, domain.NoticePayload{PreviousStart: &was})
			return err
		}
		return nil
	})
	if err != nil {
		return Listed{}, err
	}
	return s.OccurrenceByID(ctx, id)
}

// AddOccurrence adds an extra talk to a series or a session to a conference.
func (s *Store) AddOccurrence(ctx context.Context, eventID int64, o domain.Occurrence, notify *Notify) (Listed, error) {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		e, err := eventInTx(ctx, tx, eventID, true)
		if err != nil {
			return err
		}
		if err := refuseCancelled(ctx, tx, eventID); err != nil {
			return err
		}
		o.EventID = eventID
		o.Origin = "extra"
		if e.Kind == domain.KindConference {
			o.Origin = "session"
		}
		o.Status = domain.StatusScheduled
		if err := saveOccurrence(ctx, tx, e, &o, s.now()); err != nil {
			return err
		}
		if err := s.notifySpeakers(ctx, tx, notify, o, nil); err != nil {
			return err
		}
		if err := s.recordNews(ctx, tx, newsTalk, o.ID); err != nil {
			return err
		}
		return s.registerEventRegistrants(ctx, tx, eventID, o.ID)
	})
	if err != nil {
		return Listed{}, err
	}
	return s.OccurrenceByID(ctx, o.ID)
}

// saveOccurrence inserts (ID 0) or updates o and replaces its speakers.
func saveOccurrence(ctx context.Context, tx pgx.Tx, e domain.Event, o *domain.Occurrence, now time.Time) error {
	loc, err := time.LoadLocation(e.TimeZone)
	if err != nil {
		return domain.Invalid("timezone", "err.timezone.choose")
	}
	start, err := programme.Resolve(loc, o.StartLocal, "start_time")
	if err != nil {
		return err
	}
	o.Start, o.End = start, start.Add(o.Duration)
	o.Moved = o.Origin == "generated" && o.OriginalStart != nil &&
		(!o.OriginalStart.Equal(o.StartLocal) || o.Duration != e.Duration)
	minutes := int(o.Duration / time.Minute)
	if o.ID == 0 {
		err = tx.QueryRow(ctx, `INSERT INTO occurrences (event_id, origin, start_local, duration_minutes, starts_at, ends_at,
			title, abstract, track_id, status, cancel_reason, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id`,
			o.EventID, o.Origin, o.StartLocal, minutes, o.Start, o.End, o.Title, o.Abstract, o.TrackID, o.Status, o.CancelReason, now).Scan(&o.ID)
	} else {
		_, err = tx.Exec(ctx, `UPDATE occurrences SET start_local = $2, duration_minutes = $3, starts_at = $4, ends_at = $5,
			moved = $6, title = $7, abstract = $8, track_id = $9, status = $10, cancel_reason = $11, sequence = sequence + 1,
			updated_at = $12 WHERE id = $1`,
			o.ID, o.StartLocal, minutes, o.Start, o.End, o.Moved, o.Title, o.Abstract, o.TrackID, o.Status, o.CancelReason, now)
	}
	if err != nil {
		return fmt.Errorf("save occurrence: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM speakers WHERE occurrence_id = $1`, o.ID); err != nil {
		return fmt.Errorf("replace speakers: %w", err)
	}
	for i := range o.Speakers {
		sp := &o.Speakers[i]
		// The account is found here, by the speaker's email; an id from a client is never used.
		sp.PersonID = nil
		// A photo is kept only if it is one of this occurrence's (the app refuses others).
		if err := tx.QueryRow(ctx, `INSERT INTO speakers (occurrence_id, position, name, affiliation, bio, link, email, person_id, photo_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, (SELECT id FROM people WHERE $7 <> '' AND lower(email) = lower($7)),
				(SELECT id FROM speaker_photos WHERE id = $8 AND occurrence_id = $1))
			RETURNING person_id, coalesce(photo_id, 0), coalesce((SELECT ph.key FROM speaker_photos ph WHERE ph.id = photo_id), '')`,
			o.ID, i, sp.Name, sp.Affiliation, sp.Bio, sp.Link, sp.Email, sp.PhotoID).Scan(&sp.PersonID, &sp.PhotoID, &sp.PhotoKey); err != nil {
			return fmt.Errorf("save speaker: %w", err)
		}
	}
	return dropUnusedPhotos(ctx, tx, o.ID)
}

// dropUnusedPhotos removes the photos of an occurrence no speaker shows any more.
func dropUnusedPhotos(ctx context.Context, tx pgx.Tx, occID int64) error {
	if _, err := tx.Exec(ctx, `DELETE FROM speaker_photos ph WHERE ph.occurrence_id = $1
		AND NOT EXISTS (SELECT 1 FROM speakers sp WHERE sp.photo_id = ph.id)`, occID); err != nil {
		return fmt.Errorf("drop unused photos: %w", err)
	}
	return nil
}

// notifySpeakers tells each speaker whose email is new on the occurrence (added, or changed)
// that they speak there: a notice to the account of that email, or to the bare address
// (frozen in the payload) when it has no account yet.
func (s *Store) notifySpeakers(ctx context.Context, tx pgx.Tx, notify *Notify, o domain.Occurrence, before []domain.Speaker) error {
	if notify == nil || o.Status == domain.StatusCancelled {
		return nil
	}
	told := map[string]bool{}
	for _, sp := range before {
		told[strings.ToLower(sp.Email)] = true
	}
	for _, sp := range o.Speakers {
		key := strings.ToLower(sp.Email)
		if sp.Email == "" || told[key] {
			continue
		}
		told[key] = true
		n := domain.Notice{Kind: domain.NoticeSpeakerAdded, OccurrenceID: o.ID, EventID: o.EventID,
			Payload: domain.NoticePayload{SpeakerEmail: sp.Email}}
		if sp.PersonID != nil {
			n.PersonID = *sp.PersonID
		}
		n.Payload = notify.payloadFor(n.PersonID, n.Payload)
		if err := s.enqueueNotice(ctx, tx, n); err != nil {
			return err
		}
	}
	return nil
}

// DeleteOccurrence removes an extra talk or a conference session that never had a
// registration. One that has or had registrations is cancelled instead (cancelled is then
// true) and its registrants are told (notify, kind "cancelled"); its history stays. Talks
// generated by a series' rule are cancelled by the organiser (or the rule changed), so
// calendars learn of it.
func (s *Store) DeleteOccurrence(ctx context.Context, id int64, notify *Notify) (cancelled bool, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		lo, err := lockOccurrence(ctx, tx, id)
		if err != nil {
			return err
		}
		var origin string
		var had bool
		if err := tx.QueryRow(ctx, `SELECT origin, EXISTS (SELECT 1 FROM registrations WHERE occurrence_id = $1)
			FROM occurrences WHERE id = $1`, id).Scan(&origin, &had); err != nil {
			return fmt.Errorf("read occurrence: %w", err)
		}
		if had {
			cancelled = true
			if lo.Status == domain.StatusCancelled {
				return nil
			}
			if _, err := tx.Exec(ctx, `UPDATE occurrences SET status = 'cancelled', sequence = sequence + 1, updated_at = $2
				WHERE id = $1`, id, s.now()); err != nil {
				return fmt.Errorf("cancel occurrence: %w", err)
			}
			_, err := s.notifyAll(ctx, tx, notify, domain.NoticeCancelled, id, domain.NoticePayload{})
			return err
		}
		if origin == "generated" {
			return domain.New(domain.CodeConflict, "err.occurrence.delete_scheduled")
		}
		if _, err := tx.Exec(ctx, `DELETE FROM occurrences WHERE id = $1`, id); err != nil {
			return fmt.Errorf("delete occurrence: %w", err)
		}
		return nil
	})
	return cancelled, err
}

// PersonIDByEmail finds an account (for linking a speaker to it).
func (s *Store) PersonIDByEmail(ctx context.Context, email string) (int64, error) {
	p, err := s.PersonByEmail(ctx, email)
	return p.ID, err
}
