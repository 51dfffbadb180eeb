package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/puente-org/puente/domain"
)

// digestCandidates are the members who asked for the digest, are still on its list, have
// an address mail may go to, and have had no digest for a week whose Monday is on or after
// $1 (the day before today in UTC: a member's local Monday is never earlier).
const digestCandidates = `SELECT p.id, p.time_zone FROM people p
	WHERE p.weekly_digest
	  AND NOT EXISTS (SELECT 1 FROM weekly_digests d WHERE d.person_id = p.id AND d.week >= $1)
	  AND NOT EXISTS (SELECT 1 FROM list_optouts lo WHERE lo.person_id = p.id AND lo.list_id = $2)
	  AND NOT EXISTS (SELECT 1 FROM mail_suppressions ms WHERE ms.email = lower(p.email))
	ORDER BY p.id`

// digestTalksSQL selects the talks of a member's digest in [$2, $3): scheduled talks of the
// series and conferences they follow, of public events tagged with a topic they follow, and
// the sessions they registered for (and still hold a registration for), each once, in
// start order; the third column says whether they registered.
const digestTalksSQL = `SELECT o.id, EXISTS (SELECT 1 FROM registrations r WHERE r.occurrence_id = o.id
		AND r.person_id = $1 AND r.status NOT IN ('declined', 'cancelled')) AS registered
	FROM occurrences o JOIN events e ON e.id = o.event_id
	WHERE o.status = 'scheduled' AND o.starts_at >= $2 AND o.starts_at < $3
	  AND (EXISTS (SELECT 1 FROM follows f WHERE f.person_id = $1 AND f.event_id = e.id)
	    OR (e.visibility = 'public' AND EXISTS (SELECT 1 FROM topic_follows tf, unnest(e.tags) t
	        WHERE tf.person_id = $1 AND tf.tag = lower(t)))
	    OR EXISTS (SELECT 1 FROM registrations r WHERE r.occurrence_id = o.id AND r.person_id = $1
	        AND r.status NOT IN ('declined', 'cancelled')))
	ORDER BY o.starts_at, o.id LIMIT $4`

// digestTalkIDs are the talks of personID's digest over w, and which of them they
// registered for.
func digestTalkIDs(ctx context.Context, q querier, personID int64, w domain.DigestWindow) ([]int64, map[int64]bool, error) {
	rows, err := q.Query(ctx, digestTalksSQL, personID, w.From, w.Until, domain.MaxDigestTalks)
	if err != nil {
		return nil, nil, fmt.Errorf("digest talks: %w", err)
	}
	defer rows.Close()
	var ids []int64
	registered := map[int64]bool{}
	for rows.Next() {
		var id int64
		var reg bool
		if err := rows.Scan(&id, &reg); err != nil {
			return nil, nil, fmt.Errorf("digest talks: %w", err)
		}
		ids = append(ids, id)
		registered[id] = reg
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("digest talks: %w", err)
	}
	return ids, registered, nil
}

// DigestTalks are the talks of personID's digest over w, as they are now, in start order.
func (s *Store) DigestTalks(ctx context.Context, personID int64, w domain.DigestWindow) ([]domain.NoticeTalk, error) {
	ids, registered, err := digestTalkIDs(ctx, s.pool, personID, w)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	list, err := s.Occurrences(ctx, OccurrenceFilter{IDs: ids, Limit: len(ids)})
	if err != nil {
		return nil, err
	}
	out := make([]domain.NoticeTalk, 0, len(list))
	for _, l := range list {
		out = append(out, domain.NoticeTalk{Event: l.Event, Occurrence: l.Occurrence, Registered: registered[l.Occurrence.ID]})
	}
	return out, nil
}

// SendDigests queues the weekly digests that are due (the system's work, every minute): for
// each member who asked for it and whose Monday 08:00 has come in their zone, but not the end
// of that Monday, and who has had no digest this local week. The week is recorded in the
// same transaction as the email (ON CONFLICT DO NOTHING), so servers running this together
// send each member one digest a week; a week with no talk to tell is recorded without an
// email. It says how many digests it queued.
//
// The email itself is written at delivery (package notices), in the member's language and
// zone as they are then, from the talks as they are then; the window is the one reckoned
// here, so a delivery retried later still tells of the same two weeks.
func (s *Store) SendDigests(ctx context.Context) (int, error) {
	now := s.now()
	if !digestDayAnywhere(now) {
		return 0, nil
	}
	utcToday := now.UTC().Truncate(24 * time.Hour)
	rows, err := s.pool.Query(ctx, digestCandidates, utcToday.AddDate(0, 0, -1), string(domain.ListWeeklyDigest))
	if err != nil {
		return 0, fmt.Errorf("due digests: %w", err)
	}
	type member struct {
		id   int64
		zone string
	}
	members, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (member, error) {
		var m member
		err := r.Scan(&m.id, &m.zone)
		return m, err
	})
	if err != nil {
		return 0, fmt.Errorf("due digests: %w", err)
	}
	sent := 0
	for _, m := range members {
		loc := domain.DigestZone(domain.Person{Profile: domain.Profile{TimeZone: m.zone}})
		week := domain.DigestWeekOf(now, loc)
		if !week.Due(now) {
			continue
		}
		queued, err := s.queueDigest(ctx, m.id, loc, week)
		if err != nil {
			return sent, err
		}
		if queued {
			sent++
		}
	}
	return sent, nil
}

// queueDigest records personID's digest of week and, when it has talks to tell, queues its
// email, in one transaction. It reports whether it queued one (false: nothing to tell, or
// another server had it).
func (s *Store) queueDigest(ctx context.Context, personID int64, loc *time.Location, week domain.DigestWeek) (bool, error) {
	win := domain.DigestWindow{From: week.From, Until: week.Until}
	queued := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		ids, _, err := digestTalkIDs(ctx, tx, personID, win)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO weekly_digests (person_id, week, time_zone, window_start, window_end, talks, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
			personID, week.Monday, loc.String(), win.From, win.Until, len(ids), s.now())
		if err != nil {
			return fmt.Errorf("record digest: %w", err)
		}
		if tag.RowsAffected() == 0 || len(ids) == 0 {
			return nil // another server had it, or nothing to tell
		}
		queued = true
		if err := s.enqueueNotice(ctx, tx, domain.Notice{Kind: domain.NoticeWeeklyDigest, PersonID: personID,
			List: domain.ListWeeklyDigest, Payload: domain.NoticePayload{Digest: &win}}); err != nil {
			return err
		}
		// Not delivered late in the week: dropped after Tuesday (the outbox's discard_after).
		if _, err := tx.Exec(ctx, `UPDATE outbox SET discard_after = $3 WHERE person_id = $1 AND notice_kind = $2
			AND status = 'pending' AND discard_after IS NULL`, personID, string(domain.NoticeWeeklyDigest), week.DeliverBy); err != nil {
			return fmt.Errorf("digest delivery deadline: %w", err)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("digest for person %d: %w", personID, err)
	}
	return queued, nil
}

// digestDayAnywhere reports whether it is Monday between 08:00 and 24:00 somewhere: zones
// run from UTC-12 to UTC+14, so from Sunday 18:00 to Tuesday 12:00 UTC. The rest of the
// week the job reads nothing.
func digestDayAnywhere(now time.Time) bool {
	u := now.UTC()
	hour := u.Hour()
	switch u.Weekday() {
	case time.Sunday:
		return hour >= domain.DigestSendHour+24-14
	case time.Monday:
		return true
	case time.Tuesday:
		return hour < 12
	}
	return false
}
