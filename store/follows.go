package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/puente-org/puente/domain"
)

// FollowTopic makes a person follow a topic tag, already normalised (idempotent).
func (s *Store) FollowTopic(ctx context.Context, personID int64, tag string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO topic_follows (person_id, tag, created_at) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`, personID, tag, s.now())
	if err != nil {
		return fmt.Errorf("follow topic: %w", err)
	}
	return nil
}

// UnfollowTopic stops following a topic (idempotent).
func (s *Store) UnfollowTopic(ctx context.Context, personID int64, tag string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM topic_follows WHERE person_id = $1 AND tag = $2`, personID, tag); err != nil {
		return fmt.Errorf("unfollow topic: %w", err)
	}
	// News not yet sent that only this topic brought is dropped with it.
	if err := s.dropUnfollowedNews(ctx, personID); err != nil {
		return err
	}
	return nil
}

// FollowedTopics lists the topic tags a person follows, in alphabetical order.
func (s *Store) FollowedTopics(ctx context.Context, personID int64) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT tag FROM topic_follows WHERE person_id = $1 ORDER BY tag`, personID)
	if err != nil {
		return nil, fmt.Errorf("followed topics: %w", err)
	}
	tags, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("followed topics: %w", err)
	}
	return tags, nil
}

// newsFollowers is the people who hear of news of the talk o.id: the followers of its
// event and of the event's topics, but not its organisers (it is their own news). Only
// public events' scheduled talks still to come are news.
const newsFollowers = `SELECT f.person_id, o.id FROM occurrences o JOIN events e ON e.id = o.event_id
	CROSS JOIN LATERAL (
		SELECT person_id FROM follows WHERE event_id = e.id
		UNION
		SELECT tf.person_id FROM topic_follows tf WHERE EXISTS (
			SELECT 1 FROM unnest(e.tags) t WHERE puente_fold(t) = puente_fold(tf.tag))
	) f
	WHERE o.id = ANY($1) AND o.status = 'scheduled' AND o.starts_at > $2
	  AND e.visibility = 'public' AND e.cancelled_at IS NULL
	  AND NOT EXISTS (SELECT 1 FROM event_organisers eo WHERE eo.event_id = e.id AND eo.person_id = f.person_id)`

// News kinds (follow_news.what).
const (
	newsTalk     = "talk"
	newsSpeakers = "speakers"
)

// recordNews records, inside the change's transaction, that the talks occIDs are news of
// kind what to their followers; a talk is recorded once per person and kind, however many
// of their follows match it.
func (s *Store) recordNews(ctx context.Context, tx pgx.Tx, what string, occIDs ...int64) error {
	if len(occIDs) == 0 {
		return nil
	}
	now := s.now()
	_, err := tx.Exec(ctx, `INSERT INTO follow_news (person_id, occurrence_id, what, created_at)
		SELECT person_id, id, $3, $2 FROM (`+newsFollowers+`) news
		ON CONFLICT DO NOTHING`, occIDs, now, what)
	if err != nil {
		return fmt.Errorf("record news for followers: %w", err)
	}
	return nil
}

// newSpeakers reports whether after names a speaker before did not (by name, case aside):
// speakers named for a talk that had none, or added to it.
func newSpeakers(before, after []domain.Speaker) bool {
	had := map[string]bool{}
	for _, sp := range before {
		had[foldName(sp.Name)] = true
	}
	for _, sp := range after {
		if !had[foldName(sp.Name)] {
			return true
		}
	}
	return false
}

// dropUnfollowedNews drops a person's unsent news that none of their follows brings any
// more (they unfollowed).
func (s *Store) dropUnfollowedNews(ctx context.Context, personID int64) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM follow_news n USING occurrences o, events e
		WHERE n.person_id = $1 AND o.id = n.occurrence_id AND e.id = o.event_id
		  AND NOT EXISTS (SELECT 1 FROM follows f WHERE f.person_id = $1 AND f.event_id = e.id)
		  AND NOT EXISTS (SELECT 1 FROM topic_follows tf, unnest(e.tags) t
		                  WHERE tf.person_id = $1 AND puente_fold(t) = puente_fold(tf.tag))`, personID)
	if err != nil {
		return fmt.Errorf("drop news of unfollowed: %w", err)
	}
	return nil
}

// SendFollowUpdates queues the follow-updates email of each person who has news and was
// not sent one in the last day: one notice covering all their news, each talk once.
// Talks cancelled or removed since are left out (and a person with no news left gets
// nothing). Each person is handled in one transaction holding their row of
// follow_updates_sent, so several servers running this at once send each batch once. It
// says how many notices it queued.
func (s *Store) SendFollowUpdates(ctx context.Context) (int, error) {
	now := s.now()
	due := now.Add(-domain.FollowUpdatesEvery)
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT n.person_id FROM follow_news n
		WHERE NOT EXISTS (SELECT 1 FROM follow_updates_sent u WHERE u.person_id = n.person_id AND u.sent_at > $1)
		ORDER BY n.person_id LIMIT 1000`, due)
	if err != nil {
		return 0, fmt.Errorf("people with news: %w", err)
	}
	people, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("people with news: %w", err)
	}
	sent := 0
	for _, id := range people {
		ok, err := s.sendFollowUpdatesTo(ctx, id, now, due)
		if err != nil {
			return sent, err
		}
		if ok {
			sent++
		}
	}
	return sent, nil
}

// sendFollowUpdatesTo makes one person's batch, if it is still due.
func (s *Store) sendFollowUpdatesTo(ctx context.Context, personID int64, now, due time.Time) (bool, error) {
	// The row exists before it is locked: the lock is what serialises servers.
	if _, err := s.pool.Exec(ctx, `INSERT INTO follow_updates_sent (person_id, sent_at) VALUES ($1, 'epoch')
		ON CONFLICT DO NOTHING`, personID); err != nil {
		return false, fmt.Errorf("follow updates of %d: %w", personID, err)
	}
	queued := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var last time.Time
		err := tx.QueryRow(ctx, `SELECT sent_at FROM follow_updates_sent WHERE person_id = $1 FOR UPDATE`, personID).Scan(&last)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // the person is gone
		}
		if err != nil {
			return fmt.Errorf("lock follow updates: %w", err)
		}
		if last.After(due) {
			return nil // another server sent them theirs
		}
		// Every item is taken; those no longer news (cancelled, past, unlisted) are dropped.
		rows, err := tx.Query(ctx, `WITH taken AS (
				DELETE FROM follow_news WHERE person_id = $1 RETURNING occurrence_id, what, created_at)
			SELECT t.occurrence_id, bool_and(t.what = 'speakers') FROM taken t
			JOIN occurrences o ON o.id = t.occurrence_id JOIN events e ON e.id = o.event_id
			WHERE o.status = 'scheduled' AND o.starts_at > $2 AND e.visibility = 'public' AND e.cancelled_at IS NULL
			GROUP BY t.occurrence_id, o.starts_at ORDER BY o.starts_at, t.occurrence_id`, personID, now)
		if err != nil {
			return fmt.Errorf("take news: %w", err)
		}
		news, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.FollowNews, error) {
			var n domain.FollowNews
			err := r.Scan(&n.OccurrenceID, &n.Speakers)
			return n, err
		})
		if err != nil {
			return fmt.Errorf("take news: %w", err)
		}
		if len(news) == 0 {
			return nil
		}
		sql, args, err := s.noticeInsert(domain.Notice{Kind: domain.NoticeFollowUpdates, PersonID: personID,
			List: domain.ListFollowUpdates, Payload: domain.NoticePayload{News: news}})
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, sql, args...)
		if err != nil {
			return fmt.Errorf("enqueue follow updates: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE follow_updates_sent SET sent_at = $2 WHERE person_id = $1`, personID, now); err != nil {
			return fmt.Errorf("record follow updates: %w", err)
		}
		queued = tag.RowsAffected() > 0 // none for a person who left the list
		return nil
	})
	return queued, err
}

// followNewsFacts reads a follow-updates notice's talks as they are now, in its order,
// leaving out those cancelled, removed or no longer public since.
func (s *Store) followNewsFacts(ctx context.Context, news []domain.FollowNews) ([]domain.FollowNewsFact, error) {
	ids := make([]int64, 0, len(news))
	for _, n := range news {
		ids = append(ids, n.OccurrenceID)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	list, err := s.Occurrences(ctx, OccurrenceFilter{IDs: ids, PublicOnly: true, Limit: len(ids)})
	if err != nil {
		return nil, err
	}
	var out []domain.FollowNewsFact
	for _, l := range list {
		if l.Occurrence.Status != domain.StatusScheduled {
			continue
		}
		i := slices.IndexFunc(news, func(n domain.FollowNews) bool { return n.OccurrenceID == l.Occurrence.ID })
		out = append(out, domain.FollowNewsFact{Event: l.Event, Occurrence: l.Occurrence, Speakers: news[i].Speakers})
	}
	return out, nil
}

// foldName is a speaker's name as compared: spaces collapsed, case aside.
func foldName(name string) string {
	return strings.ToLower(strings.Join(strings.Fields(name), " "))
}
